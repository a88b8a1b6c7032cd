// Native tools and model ports: functions of the embedding application (the C API's
// artana_call_fn) that answer a run's live tool or model step, now or later, from any thread.
//
// A live step's call gets a completion token, unique in the process and never reused. The
// application completes it once (complete_native), from any thread; the result waits in the
// issuing host's inbox until its tick hands it to the step. A token whose run stopped here
// (cancelled, unloaded, reloaded without adopting it) or whose host is gone is cancelled: its
// completion is refused and nothing is recorded. A token never completed leaves its step open
// in the ledger: a model call is made again when the run resumes, a tool's outcome becomes
// unknown (the kernel's rule for a call a crash interrupted).
//
// Threading: complete_native from any thread; everything else on the host's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/tool_registry.h"

namespace artana::host {

// What a native function is asked: a tool's arguments or a model port's request, as JSON.
struct NativeCall {
  std::string json;  // canonical JSON text
  std::string run_id, tenant, step_key, idempotency_key;
};

// How an application's native function failed (artana_failure).
enum class NativeFailure { kTransient = 1, kPermanent, kTimeout };

// What an application answered.
struct NativeReply {
  bool ok = true;
  kernel::Json value;  // ok: the tool's result, or the port's {output, usage, tool_calls}
  NativeFailure failure = NativeFailure::kPermanent;  // !ok
  std::string message;                                // !ok
};

// Called on the host's thread when a live step needs the application; `token` completes it.
using NativeFunction = std::function<void(const NativeCall& call, uint64_t token)>;

// A tool the application implements: its spec (name, arguments schema, capability, side
// effect, version, description) joins every run's registry.
struct NativeTool {
  kernel::ToolSpec spec;
  NativeFunction fn;
};

enum class CompleteResult {
  kDone,          // handed to the host: its next tick records it
  kUnknownToken,  // never issued
  kAlreadyDone,   // completed before
  kCancelled,     // its run stopped here or its host is gone: nothing recorded
};
// Completes `token` with `reply`. Any thread.
CompleteResult complete_native(uint64_t token, NativeReply reply);

}  // namespace artana::host
