// Syscalls that record a value and never wait: run:now, run:random, run:summary,
// run:artifact, run:version, run.replaying, run:step.
#include <cmath>
#include <cstring>

#include "artana/kernel/sha256.h"
#include "artana/lua/lua_json.h"
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

// An integer argument (an integral float is accepted), or nullopt.
std::optional<int64_t> integer_arg(lua_State* L, int index) {
  int is_integer = 0;
  const lua_Integer value = lua_tointegerx(L, index, &is_integer);
  if (!is_integer) return std::nullopt;
  return value;
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
  const int nargs = lua_gettop(L) - 1;
  std::optional<int64_t> low, high;
  if (nargs >= 1) {
    low = integer_arg(L, 2);
    high = nargs >= 2 ? integer_arg(L, 3) : low;
    if (nargs == 1) low = 1;
    if (!low || !high || nargs > 2)
      return reply_error(ErrorKind::kInvalidArgument,
                         "run:random() gives a float in [0,1); run:random(m) an integer in "
                         "[1,m]; run:random(m, n) an integer in [m,n]");
    if (*low > *high)
      return reply_error(ErrorKind::kInvalidArgument, "run:random: the interval is empty (" +
                                                          std::to_string(*low) + " > " +
                                                          std::to_string(*high) + ")");
    constexpr int64_t kSafe = int64_t{1} << 53;
    if (*low < -kSafe || *high > kSafe)
      return reply_error(ErrorKind::kInvalidArgument, "run:random: bounds must be within ±2^53");
  }
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

SyscallReply& ScriptRun::sys_summary(lua_State* L, Task& task) {
  const char* kind = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr;
  if (kind == nullptr || *kind == '\0')
    return reply_error(ErrorKind::kInvalidArgument,
                       "run:summary(kind, value): kind must be a non-empty string");
  auto value = lua::to_json(L, 3, "value");
  if (!value.ok()) return reply_error(value.status());
  auto key = claim_key(L, task, "summary", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  Status recorded = kernel_.summary(tenant_, run_id_, kind, *value, *key);
  if (!recorded.ok()) return reply_error(recorded, *key);
  return reply_;
}

SyscallReply& ScriptRun::sys_artifact(lua_State* L, Task& task) {
  const char* name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr;
  if (name == nullptr)
    return reply_error(ErrorKind::kInvalidArgument,
                       "run:artifact(key [, value]): key must be a string");
  const bool write = lua_gettop(L) >= 3;
  auto key = claim_key(L, task, "artifact", std::nullopt);
  if (!key.ok()) return reply_error(key.status());
  if (write) {
    auto value = lua::to_json(L, 3, "value");
    if (!value.ok()) return reply_error(value.status());
    Status written = kernel_.write_artifact(tenant_, run_id_, *key, name, *value);
    if (!written.ok()) return reply_error(written, *key);
    return reply_;
  }
  auto read = kernel_.read_artifact(tenant_, run_id_, *key, name);
  if (!read.ok()) return reply_error(read.status(), *key);
  return reply_value(read->value);
}

SyscallReply& ScriptRun::sys_version(lua_State* L, Task& /*task*/) {
  const char* change = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr;
  const std::optional<int64_t> max = integer_arg(L, 3);
  if (change == nullptr || !max)
    return reply_error(ErrorKind::kInvalidArgument,
                       "run:version(change_id, max): a change id string and the newest version");
  auto version = kernel_.version(tenant_, run_id_, change, *max);
  if (!version.ok()) return reply_error(version.status(), "version:" + std::string(change));
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
    auto value = lua::to_json(L, 2, "step result");
    if (!value.ok()) return reply_error(value.status(), task.step_key);
    auto step = kernel_.value_step(tenant_, run_id_, task.step_key, ValueKind::kStep,
                                   [&]() -> Result<Json> { return std::move(*value); });
    if (!step.ok()) return reply_error(step.status(), task.step_key);
    return reply_value(step->value);
  }
  const char* name = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : nullptr;
  if (name == nullptr || *name == '\0')
    return reply_error(ErrorKind::kInvalidArgument,
                       "run:step(name, fn): name must be a non-empty string");
  auto key = claim_key(L, task, "step", std::string_view(name));
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
