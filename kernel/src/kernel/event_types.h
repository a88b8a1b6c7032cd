// The kernel's event types and the payload fields it reads back (docs/kernel_events.md).
// Terminal types must also be listed in event_index.cc, which the ledger indexes by.
#pragma once

#include <string_view>

namespace artana::kernel::events {

inline constexpr std::string_view kRunStarted = "run_started";
inline constexpr std::string_view kRunForked = "run_forked";
inline constexpr std::string_view kRunCompleted = "run_completed";
inline constexpr std::string_view kRunFailed = "run_failed";
inline constexpr std::string_view kRunCancelled = "run_cancelled";
// An operator asked to cancel a run another process executes: its owner (or whoever
// executes it next) appends run_cancelled.
inline constexpr std::string_view kCancelRequested = "cancel_requested";
inline constexpr std::string_view kRunHalted = "run_halted";
inline constexpr std::string_view kRunPaused = "run_paused";
inline constexpr std::string_view kRunResumed = "run_resumed";      // out of needs_attention
inline constexpr std::string_view kPauseResumed = "pause_resumed";  // terminal of a pause step
inline constexpr std::string_view kRunSummary = "run_summary";
inline constexpr std::string_view kBudgetRaised = "budget_raised";
inline constexpr std::string_view kCapabilityGranted = "capability_granted";
inline constexpr std::string_view kModelRequested = "model_requested";
inline constexpr std::string_view kModelCompleted = "model_completed";  // terminal
inline constexpr std::string_view kModelFailed = "model_failed";        // terminal
inline constexpr std::string_view kReplayedWithDrift = "replayed_with_drift";
inline constexpr std::string_view kToolRequested = "tool_requested";
inline constexpr std::string_view kToolCompleted = "tool_completed";    // terminal
inline constexpr std::string_view kToolReconciled = "tool_reconciled";  // retry decisions
inline constexpr std::string_view kStepDenied = "step_denied";          // a middleware refusal
// Value steps' terminals (ValueKind order).
inline constexpr std::string_view kTimeRead = "time_read";
inline constexpr std::string_view kRandomRead = "random_read";
inline constexpr std::string_view kStepCompleted = "step_completed";
inline constexpr std::string_view kVersionMarker = "version_marker";
inline constexpr std::string_view kArtifactRead = "artifact_read";
inline constexpr std::string_view kMemoryRead = "memory_read";
inline constexpr std::string_view kLookupRead = "lookup_read";
// Artifacts are run summaries of kind "artifact::<key>", the latest one winning (the
// encoding Python Artana used).
inline constexpr std::string_view kArtifactKindPrefix = "artifact::";
// The script's identity as the host loaded it (record_script); not a step.
inline constexpr std::string_view kScriptLoaded = "script_loaded";
// A durable timer: sleep_started {step_key, due_at_us, duration_us} opens the step,
// sleep_completed {step_key, due_at_us, woke_at_us} is its terminal.
inline constexpr std::string_view kSleepStarted = "sleep_started";
inline constexpr std::string_view kSleepCompleted = "sleep_completed";  // terminal
// A child run (run:child): child_started opens the step, child_completed ends it; a child
// that stopped (paused, sleeping, halted) holds its parent: child_waiting (a run fact).
inline constexpr std::string_view kChildStarted = "child_started";
inline constexpr std::string_view kChildCompleted = "child_completed";  // terminal
inline constexpr std::string_view kChildWaiting = "child_waiting";

}  // namespace artana::kernel::events
