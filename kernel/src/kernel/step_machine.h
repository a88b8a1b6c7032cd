// The step machine's vocabulary (step_machine.cc): a locked run, what a step kind asks, what
// the machine decided, and a live step's record between begin_* and finish_*.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "artana/kernel/json_schema.h"
#include "artana/kernel/kernel.h"
#include "kernel/model_identity.h"
#include "kernel/run_state.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {

// A run's state locked for one step call (kernel.cc active()).
//
// Lock order, so no two threads wait on each other: a run's lock may be held while taking
// its fork's (the chain only grows at its end) or an ancestor's (a child's step reads its
// parents' budgets), never a child's; Held::mu is taken last and nothing is locked under it.
struct Kernel::ActiveRun {
  std::shared_ptr<RunState> state;
  std::unique_lock<std::mutex> lock;
};

// A non-owning reference to a callable: the machine calls it while the caller's frame lives,
// so nothing is allocated per step (std::function would for larger captures).
template <typename Signature>
class FunctionRef;
template <typename R, typename... Args>
class FunctionRef<R(Args...)> {
 public:
  template <typename F>
  FunctionRef(F& f)  // NOLINT(google-explicit-constructor)
      : object_(&f), call_([](void* o, Args... args) -> R {
          return (*static_cast<F*>(o))(std::forward<Args>(args)...);
        }) {}
  R operator()(Args... args) const { return call_(object_, std::forward<Args>(args)...); }

 private:
  void* object_;
  R (*call_)(void*, Args...);
};

// What a step kind asks the machine.
struct Kernel::StepQuery {
  const std::string& key;
  StepKind kind;
  ReplayPolicy policy = ReplayPolicy::kStrict;
  // A recorded failure is tried live again: a transient one, or any one of a step without
  // side effects (a model call, a tool declared side_effect = false).
  bool retry_failed = false;
  // Prepares the request in the run the step is decided in (a fork has its own): replaces
  // its PII (`recorded`: renumbering as the recorded step did, else allocating) and returns
  // its identity (an empty hash for kinds without one). Called once per run of the chain.
  FunctionRef<Result<RequestIdentity>(RunState& state, bool recorded)> prepare;
  // A replayed terminal may be returned as its payload's text (RecordedTerminal::text); the
  // kind parses it when it needs its values. Otherwise it is returned parsed.
  bool keep_text = false;
  // Only a replay of a result kept in memory, of a succeeded step with the same request, is
  // decided; anything else is kDeferred before it changes anything (ModelRequest::
  // replay_only).
  bool replay_only = false;
};

struct Kernel::StepDecision {
  enum class Verdict {
    kReplay,    // `step` has a terminal: return it (a recorded failure as its error)
    kOpen,      // `step` was opened and has not ended (a pause not resumed, a sleep running)
    kLive,      // nothing to replay: the kind goes live (judge, append, call)
    kAdopted,   // an earlier execution's call in flight at this step, same request: `ticket`
    kDeferred,  // StepQuery::replay_only and not such a replay: nothing was done
  };
  Verdict verdict = Verdict::kLive;
  StepRecord* step = nullptr;             // kReplay, kOpen
  RecordedTerminal terminal;              // kReplay: the step's terminal, read from the ledger
  RequestIdentity identity;               // from StepQuery::prepare
  std::vector<std::string> drift_fields;  // kReplay under allow_prompt_drift: what differed
  uint64_t ticket = 0;                    // kAdopted
};

// The StepQuery::prepare of a kind that records one value and has no request identity (a
// pause's context, a summary's value): the value through the chain's request rewrites. A
// replay renumbers the run's placeholders in script order; live, they are allocated. The
// value is made only when needed: a replay under no middleware that rewrites_values() does
// not need it (its step records nothing), and a script's value is then never converted.
struct Kernel::RecordedValue {
  Kernel& kernel;
  const std::string& step_key;
  StepKind kind;
  const ValueSource& source;
  std::optional<Json> value;        // made from `source`, once
  std::optional<Json> rewritten;    // set when a rewrite changed the value
  Json allocated = Json::object();  // the placeholders the rewrites allocated

  Result<RequestIdentity> operator()(RunState& state, bool recorded) {
    if (recorded && !kernel.values_rewritten_) return RequestIdentity();
    ARTANA_RETURN_IF_ERROR(make());
    StepValue recorded_value(*value);
    StepRequest request{std::span<StepValue>(&recorded_value, 1)};
    request.placeholders.renumber = recorded;
    ARTANA_RETURN_IF_ERROR(kernel.rewrite_request(state, step_key, kind, request));
    rewritten.reset();
    if (recorded_value.edited()) rewritten = recorded_value.take();
    allocated = std::move(request.placeholders.allocated);
    return RequestIdentity();
  }
  // What to record, once the step goes live.
  Result<Json> take() {
    if (rewritten) return std::move(*rewritten);
    ARTANA_RETURN_IF_ERROR(make());
    return std::move(*value);
  }

 private:
  Status make() {
    if (value) return Status();
    ARTANA_ASSIGN_OR_RETURN(Json made, source());
    value = std::move(made);
    return Status();
  }
};

// Records in an event what its rewrites allocated, so a replay numbers placeholders alike.
inline void record_placeholders(Json& payload, Json&& allocated) {
  if (allocated.size() > 0) payload.set("pii_allocated", std::move(allocated));
}

// The command an operator runs to settle a step whose outcome is unknown.
inline std::string reconcile_command(const RunId& run, const std::string& step_key) {
  return "artana reconcile " + run.str() + " --step " + step_key +
         " --retry | --outcome success|failed --result JSON | --abandon";
}

// What resolve_drift decided (kernel_drift.cc).
struct Kernel::DriftDecision {
  std::vector<std::string> fields;  // what differs from the recorded request
  std::shared_ptr<RunState> fork;   // fork_on_drift: continue the step here (live)
};

// A live step between begin_* and finish_*, owned by its PendingStep.
struct Kernel::LiveEntry {
  std::shared_ptr<RunState> state;
  std::string step_key;
  StepKind kind = StepKind::kModel;
  RequestIdentity identity;
  std::string model;                        // kModel: the model called
  std::optional<JsonSchema> output_schema;  // kModel: what its output must meet
  Json request_pii;                         // kModel: placeholders the request's scrub allocated
  std::shared_ptr<const ToolRegistry> registry;  // kTool: the registry the call began under
  // Made by an execution before a reload (Kernel::reload) and not adopted by the new one yet.
  bool inherited = false;
};

// The live steps by ticket, and each run's tickets: one run's are found without looking at
// every other run's (a reload of a thousand runs, each with a call in flight, is linear).
// Guarded by Held::mu. An entry stays under the run it was opened in (Kernel::reload moves
// it to a fresh state of that same run).
class Kernel::LiveSteps {
 public:
  uint64_t add(std::unique_ptr<LiveEntry> entry);
  LiveEntry* find(uint64_t ticket) const;
  std::unique_ptr<LiveEntry> take(uint64_t ticket);
  // The tickets of `run`'s live steps, oldest first.
  const std::vector<uint64_t>& of_run(const RunId& run) const;
  size_t size() const { return entries_.size(); }

 private:
  std::unordered_map<uint64_t, std::unique_ptr<LiveEntry>> entries_;
  std::unordered_map<std::string, std::vector<uint64_t>> by_run_;
  uint64_t next_ticket_ = 1;
};

// What a kernel holds: the runs loaded and the live steps, under one mutex.
struct Kernel::Held {
  std::mutex mu;  // guards the members below (each run's state has its own mutex)
  std::unordered_map<std::string, std::shared_ptr<RunState>> runs;
  LiveSteps live;

  // ---- pipelined commits (kernel_pipeline.cc) ----
  std::mutex listener_mu;  // held while the listener runs, so clearing it waits for a call
  std::function<void()> listener;
  // Pipelined writes issued and not landed (the destructor waits for none). An atomic, not a
  // lock the ticking thread would share with the commit thread.
  std::atomic<uint32_t> in_flight{0};
};

}  // namespace artana::kernel
