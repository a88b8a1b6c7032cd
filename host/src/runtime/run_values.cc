// Syscalls that record a value and never wait: run:now, run:random, run:memory, run:summary,
// run:lookup, run:artifact, run:version, run.replaying, run:step.
#include <cmath>
#include <cstring>

#include "artana/kernel/sha256.h"
#include "artana/lua/syscall_args.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using kernel::ValueKind;
using lua::SyscallOp;
using lua::SyscallReply;

namespace {

// A step's value derived from the run's seed and the step key: the same in every process
// and independent of the order branches run in, so a random number needs no PRNG state.
uint64_t random_bits(int64_t seed, const std::string& step_key) {
  std::string input = std::to_string(seed);
  input += '\n';
  input += step_key;
  const kernel::Sha256 digest = kernel::Sha256::of(input);
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | digest.bytes[i];
  return bits;
}

}  // namespace

SyscallReply& ScriptRun::sys_now(lua_State* L, Task& task) {
  auto key = claim_key(L, task, "now", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  // The clock is read only when the step goes live: a replay never needs it.
  auto step = kernel_.value_step(tenant_, run_id_, *key, ValueKind::kTime,
                                 [this]() -> Result<Json> { return Json(host_.now_us()); });
  if (!step.ok()) return reply_error(step.status(), *key);
  if (!step->value.is_integer())
    return reply_error(ErrorKind::kReplayDrift, "recorded time is not an integer", *key);
  // Seconds since the epoch, with microseconds, like os.time() but finer.
  return reply_value(Json(static_cast<double>(step->value.as_integer()) / 1e6));
}

SyscallReply& ScriptRun::sys_random(lua_State* L, Task& task) {
  auto args = lua::decode_random(L);
  if (!args.ok()) return reply_error(args.status());
  const std::optional<int64_t> low = args->low, high = args->high;
  auto key = claim_key(L, task, "random", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  auto step = kernel_.value_step(tenant_, run_id_, *key, ValueKind::kRandom, [&]() -> Result<Json> {
    const uint64_t bits = random_bits(seed_, *key);
    if (!low) return Json(static_cast<double>(bits >> 11) * 0x1p-53);
    const uint64_t span = static_cast<uint64_t>(*high - *low) + 1;
    return Json(*low + static_cast<int64_t>(bits % span));
  });
  if (!step.ok()) return reply_error(step.status(), *key);
  return reply_value(step->value);
}

// The heap differs between a live execution and its replay (a replay runs no port or tool,
// and garbage is collected at other times), so the script sees it recorded, like the time:
// this is what replaces collectgarbage("count"), which the sandbox refuses.
SyscallReply& ScriptRun::sys_memory(lua_State* L, Task& task) {
  auto key = claim_key(L, task, "memory", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  auto step = kernel_.value_step(
      tenant_, run_id_, *key, ValueKind::kMemory,
      [this]() -> Result<Json> { return Json(static_cast<int64_t>(lua_->memory_used())); });
  if (!step.ok()) return reply_error(step.status(), *key);
  return reply_value(step->value);
}

SyscallReply& ScriptRun::sys_summary(lua_State* L, Task& task) {
  auto args = lua::decode_summary(L);
  if (!args.ok()) return reply_error(args.status());
  auto key = claim_key(L, task, "summary", args->step_key);
  if (!key.ok()) return reply_error(key.status());
  Status recorded = kernel_.summary(tenant_, run_id_, args->kind, args->value, *key, args->key);
  if (!recorded.ok()) return reply_error(recorded, *key);
  return reply_;
}

SyscallReply& ScriptRun::sys_lookup(lua_State* L, Task& task) {
  auto request = lua::decode_lookup(L);
  if (!request.ok()) return reply_error(request.status());
  auto key = claim_key(L, task, "lookup", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  auto step = kernel_.lookup(tenant_, run_id_, *key, *request);
  if (!step.ok()) return reply_error(step.status(), *key);
  return reply_value(std::move(step->value));
}

SyscallReply& ScriptRun::sys_artifact(lua_State* L, Task& task) {
  auto args = lua::decode_artifact(L);
  if (!args.ok()) return reply_error(args.status());
  auto key = claim_key(L, task, "artifact", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  if (args->value) {
    Status written = kernel_.write_artifact(tenant_, run_id_, *key, args->key, args->value);
    if (!written.ok()) return reply_error(written, *key);
    return reply_;
  }
  auto read = kernel_.read_artifact(tenant_, run_id_, *key, args->key);
  if (!read.ok()) return reply_error(read.status(), *key);
  return reply_value(read->value);
}

SyscallReply& ScriptRun::sys_version(lua_State* L, Task& /*task*/) {
  auto args = lua::decode_version(L);
  if (!args.ok()) return reply_error(args.status());
  auto version = kernel_.version(tenant_, run_id_, args->change_id, args->max);
  if (!version.ok()) return reply_error(version.status(), "version:" + args->change_id);
  return reply_value(Json(*version));
}

SyscallReply& ScriptRun::sys_replaying(lua_State* /*L*/, Task& /*task*/) {
  auto replaying = kernel_.replaying(tenant_, run_id_);
  if (!replaying.ok()) return reply_error(replaying.status());
  reply_.kind = SyscallReply::Kind::kFlag;
  reply_.flag = *replaying;
  return reply_;
}

SyscallReply& ScriptRun::sys_run_id(lua_State* /*L*/, Task& /*task*/) {
  auto executing = kernel_.executing_run(tenant_, run_id_);
  if (!executing.ok()) return reply_error(executing.status());
  return reply_value(Json(executing->str()));
}

SyscallReply& ScriptRun::sys_step(lua_State* L, Task& task, SyscallOp op) {
  if (op == SyscallOp::kStepAbort) {
    task.in_step = false;
    return reply_;
  }
  if (op == SyscallOp::kStepEnd) {
    task.in_step = false;
    auto value = lua::decode_step_value(L);
    if (!value.ok()) return reply_error(value.status(), task.step_key);
    auto step = kernel_.value_step(tenant_, run_id_, task.step_key, ValueKind::kStep,
                                   [&]() -> Result<Json> { return std::move(*value); });
    if (!step.ok()) return reply_error(step.status(), task.step_key);
    return reply_value(step->value);
  }
  auto name = lua::decode_step_name(L);
  if (!name.ok()) return reply_error(name.status());
  auto key = claim_key(L, task, "step", std::string_view(*name));
  if (!key.ok()) return reply_error(key.status());
  bool not_recorded = false;
  auto step = kernel_.value_step(tenant_, run_id_, *key, ValueKind::kStep,
                                 [&not_recorded]() -> Result<Json> {
                                   not_recorded = true;
                                   return Status::unavailable("not recorded");
                                 });
  if (step.ok()) {
    reply_.kind = SyscallReply::Kind::kFlagValue;
    reply_.flag = true;
    reply_.value = std::move(step->value);
    return reply_;
  }
  if (!not_recorded) return reply_error(step.status(), *key);
  task.in_step = true;
  task.step_key = *key;
  reply_.kind = SyscallReply::Kind::kFlag;
  reply_.flag = false;
  return reply_;
}

}  // namespace artana::host
