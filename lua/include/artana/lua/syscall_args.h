// A syscall's arguments, decoded from the calling thread's stack into typed values. The
// host's handlers read these structs and never the stack: all Lua stack work stays in lua/.
//
// Each decoder reads arguments 2.. of the calling thread (argument 1 is the run object) and
// returns invalid_argument (kind invalid_argument) with a message naming the call's
// spelling, or the decoded values. JSON values are converted by to_json (protected: memory
// running out is a returned error, never a longjmp through the caller).
// Threading: as for the lua_State.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/status.h"

struct lua_State;

namespace artana::lua {

// run:model { ... }: the request table's fields, each converted on its own (no JSON of the
// whole table is built, and nothing looks fields up by name afterwards). A field not in
// kModelFields is refused here; what each value must be is the host's to check.
enum class ModelField {
  kModel,
  kPrompt,
  kMessages,
  kSchema,
  kTools,
  kStepKey,
  kReplay,
  kRetryFailed,
  kOptions,
  kStream,  // an HTTP endpoint streams its answer (not part of the request: not hashed)
  kCount
};
inline constexpr std::string_view kModelFields[] = {
    "model",    "prompt", "messages",     "schema",  "tools",
    "step_key", "replay", "retry_failed", "options", "stream"};
// A value left on the syscall's stack for the kernel to read when it needs it (a
// kernel::JsonSource): written canonically (append_canonical_lua) or converted (to_json).
// Valid during the syscall only.
class StackJson final : public kernel::JsonSource {
 public:
  StackJson(lua_State* L, int index, std::string_view root) : L_(L), index_(index), root_(root) {}
  Status append_canonical(std::string& out) const override;
  Result<kernel::Json> build() const override;

 private:
  lua_State* L_;
  int index_;
  std::string_view root_;
};

struct ModelArgs {
  std::optional<kernel::Json> fields[static_cast<size_t>(ModelField::kCount)];
  // `messages` when it is a table that reads as an array (marked, or items from 1): left on
  // the stack, so a replayed step hashes it without building it (kernel::ModelRequest::
  // messages_source). Any other value is converted as every field is, into fields[].
  std::optional<StackJson> messages_source;

  std::optional<kernel::Json>& operator[](ModelField f) { return fields[static_cast<size_t>(f)]; }
};
Result<ModelArgs> decode_model(lua_State* L);

// run:tool(name [, args [, options]]).
struct ToolArgs {
  std::string tool;
  kernel::Json arguments = kernel::Json::object();
  kernel::Json options;  // an object, or null when none was given
};
Result<ToolArgs> decode_tool(lua_State* L);

// run:pause(reason [, context]).
struct PauseArgs {
  std::string reason;
  kernel::Json context;  // null when none was given
};
Result<PauseArgs> decode_pause(lua_State* L);

// run:sleep(seconds): a finite number from 0 to 1e9.
struct SleepArgs {
  double seconds = 0;
};
Result<SleepArgs> decode_sleep(lua_State* L);

// run:random() -> a float in [0,1); run:random(m) -> [1,m]; run:random(m, n) -> [m,n]. Bounds
// are integers within ±2^53 and the interval is not empty.
struct RandomArgs {
  std::optional<int64_t> low, high;  // none: a float
};
Result<RandomArgs> decode_random(lua_State* L);

// A script's value converted to JSON when called (a Kernel::ValueSource): the kernel asks
// for a recorded value only when its step needs it, so a replay skips the conversion. It
// reads the syscall's Lua stack: call it during the syscall only.
using LazyJson = std::function<Result<kernel::Json>()>;

// run:summary(kind, value [, {key, step_key}]): the prelude passes the options' fields as
// arguments 4 (key) and 5 (step_key), each a string or nil.
struct SummaryArgs {
  std::string kind;
  LazyJson value;
  std::string key;  // "" when none: the step key
  std::optional<std::string> step_key;
};
Result<SummaryArgs> decode_summary(lua_State* L);

// run:child(script [, options]): the script's path and the options as JSON (an object; the
// host checks its fields).
struct ChildArgs {
  std::string script;
  kernel::Json options = kernel::Json::object();
};
Result<ChildArgs> decode_child(lua_State* L);

// run:lookup{kind, scope, limit}: the prelude passes kind (2), scope (3: "run" or "tenant",
// nil for "run") and limit (4: nil for 20).
Result<kernel::LookupRequest> decode_lookup(lua_State* L);

// run:artifact(key [, value]): a read without a value argument, a write with one.
struct ArtifactArgs {
  std::string key;
  LazyJson value;  // empty for a read
};
Result<ArtifactArgs> decode_artifact(lua_State* L);

// run:version(change_id, max).
struct VersionArgs {
  std::string change_id;
  int64_t max = 0;
};
Result<VersionArgs> decode_version(lua_State* L);

// run:step(name, fn) before fn runs (the name), and after it returned (its value).
Result<std::string> decode_step_name(lua_State* L);
Result<kernel::Json> decode_step_value(lua_State* L);

// run:scope(name, fn): the name (the host checks it as a scope name).
Result<std::string> decode_scope_name(lua_State* L);

// run:parallel(names, fns, max): the branch names and the concurrency limit (0: none). The
// functions stay on the stack for hand_over_parallel.
struct ParallelArgs {
  std::vector<std::string> names;
  size_t max_concurrency = 0;
};
Result<ParallelArgs> decode_parallel(lua_State* L);
// Moves the run object and the branch functions of a run:parallel call onto `main`, where
// take_refs (thread_calls.h) references them once the caller has yielded.
Status hand_over_parallel(lua_State* L, lua_State* main);

// require(name): the module name.
Result<std::string> decode_module_name(lua_State* L);

}  // namespace artana::lua
