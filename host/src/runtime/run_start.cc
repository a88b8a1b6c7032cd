// Starting an execution: the script's chunk has run (tools and ports registered, top-level
// modules required); now the run is started or resumed under this code, and the entry gets
// the run object and the recorded input.
#include <cstdlib>
#include <cstring>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/schema_shorthand.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallReply;

namespace {

// run:random's seed when none was given: from the run id, so it is the same wherever the
// run executes (and recorded in run_started anyway).
int64_t seed_from_run_id(const kernel::RunId& run) {
  const kernel::Sha256 digest = kernel::Sha256::of("artana-seed:" + run.str());
  uint64_t seed = 0;
  for (int i = 0; i < 6; ++i) seed = (seed << 8) | digest.bytes[i];  // 48 bits: exact in JSON
  return static_cast<int64_t>(seed);
}

// Reads field `name` of the table at `index` without metamethods. Called only while no Lua
// code runs; the field names are constants of the prelude's artana.tool, so pushing them
// finds the interned strings and allocates nothing.   [-0, +1, -]
int raw_field(lua_State* L, int index, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, index < 0 ? index - 1 : index);
}

}  // namespace

// The entry waits while the run starts: starting reads what the script registered, which
// is only safe while no Lua code runs (after the yield).
SyscallReply& ScriptRun::sys_ready(lua_State* L) {
  if (started_ || current_ == nullptr || current_->kind != TaskKind::kEntry)
    return reply_error(ErrorKind::kInvalidArgument, "the run is already started");
  current_->start = StartKind::kReady;
  return reply_wait(*current_, WaitKind::kNone, L);
}

void ScriptRun::start_entry(Task& entry) {
  Status status = start_or_resume();
  if (!status.ok()) return resume_with_status(entry, status, {});
  resume_with(entry,
              Json::object({{"id", run_id_.str()}, {"tenant", tenant_.str()}, {"input", input_}}));
}

SyscallReply& ScriptRun::sys_require(lua_State* L) {
  const char* name = lua_tostring(L, 1);
  if (name == nullptr)
    return reply_error(ErrorKind::kInvalidArgument, "require expects a module name");
  auto module = script_.read_module(name);
  if (!module.ok()) return reply_error(module.status().with_kind(ErrorKind::kScriptError));
  if (!script_.is_pinned()) {
    // Kept content-addressed so `--pinned` can execute the run under exactly this code.
    auto stored = kernel_.store_source(module->text);
    if (!stored.ok()) return reply_error(stored.status());
  }
  if (started_) {
    // A module required for the first time after the start changes the run's identity.
    Status recorded = kernel_.record_script(tenant_, run_id_, script_identity());
    if (!recorded.ok()) return reply_error(recorded);
  }
  reply_.kind = SyscallReply::Kind::kChunk;
  reply_.source = std::move(module->text);
  reply_.chunkname = "=" + module->chunkname;
  return reply_;
}

Json ScriptRun::script_identity() const { return script_.identity(); }

Status ScriptRun::start_or_resume() {
  lua_State* L = lua_->state();
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<kernel::ToolRegistry> tools, script_tools());
  // The port names (ports table keys), read with lua_next: pushes only existing values.
  port_names_.clear();
  lua::ScriptApi::push(L, api_.ports);
  lua_pushnil(L);
  while (lua_next(L, -2) != 0) {
    if (lua_type(L, -2) == LUA_TSTRING) port_names_.insert(lua_tostring(L, -2));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);

  const kernel::TenantId& caller = options_.tenant.tenant_id;
  std::optional<kernel::RunRecord> record;
  if (options_.run_id) {
    auto found = kernel_.run_record(caller, *options_.run_id);
    if (found.ok() && found->started) {
      record = std::move(*found);
    } else if (found.ok()) {
      // Created but never started (a crash in between): start it now.
    } else if (found.status().code() != StatusCode::kNotFound) {
      return found.status();
    }
  }
  if (!record) {
    kernel::StartRunRequest request;
    request.run_id = options_.run_id ? *options_.run_id : kernel::Kernel::new_run_id();
    request.tenant = options_.tenant;
    request.script_hash = script_.combined_hash();
    request.input = options_.input;
    request.replay = options_.replay.value_or(kernel::ReplayPolicy::kStrict);
    const int64_t seed = options_.seed ? *options_.seed : seed_from_run_id(*request.run_id);
    request.metadata = Json::object({{"seed", seed}});
    ARTANA_ASSIGN_OR_RETURN(run_id_, kernel_.start_run(request));
  } else {
    run_id_ = record->run_id;
    if (record->status == kernel::RunStatus::kNeedsAttention) {
      // Running it again is the operator's answer to what halted it (new code, a fix).
      ARTANA_RETURN_IF_ERROR(kernel_.resume(caller, run_id_, Json::object()));
    }
  }
  if (!script_.is_pinned())
    ARTANA_RETURN_IF_ERROR(kernel_.store_source(script_.entry().text).status());
  ARTANA_RETURN_IF_ERROR(kernel_.set_run_tools(caller, run_id_, std::move(tools)));
  ARTANA_RETURN_IF_ERROR(kernel_.record_script(caller, run_id_, script_identity()));
  ARTANA_ASSIGN_OR_RETURN(kernel::RunRecord current, kernel_.run_record(caller, run_id_));
  tenant_ = current.tenant.tenant_id;
  input_ = current.input;
  const Json* seed = current.metadata.find("seed");
  seed_ = seed != nullptr && seed->is_integer() ? seed->as_integer() : seed_from_run_id(run_id_);
  started_ = true;
  return Status();
}

Result<std::shared_ptr<kernel::ToolRegistry>> ScriptRun::script_tools() {
  lua_State* L = lua_->state();
  auto registry = std::make_shared<kernel::ToolRegistry>();
  lua::ScriptApi::push(L, api_.tools);
  const int tools = lua_gettop(L);
  Status status;
  lua_pushnil(L);
  while (status.ok() && lua_next(L, tools) != 0) {
    const int spec = lua_gettop(L);
    kernel::ToolSpec tool;
    tool.name = lua_tostring(L, spec - 1);
    raw_field(L, spec, "description");
    tool.description = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    raw_field(L, spec, "capability");
    tool.capability = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "";
    raw_field(L, spec, "version");
    tool.version = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "1";
    raw_field(L, spec, "side_effect");
    tool.side_effect = lua_toboolean(L, -1);
    raw_field(L, spec, "args");
    auto args = lua::to_json(L, -1, "args");
    lua_settop(L, spec - 1);  // keep the key for lua_next
    if (!args.ok()) {
      status = Status::invalid_argument("tool '{}': {}", tool.name, args.status().message());
      break;
    }
    auto schema = lua::schema_from_shorthand(*args, "args");
    if (!schema.ok()) {
      status = Status::invalid_argument("tool '{}': {}", tool.name, schema.status().message());
      break;
    }
    tool.arguments = std::move(*schema);
    status = registry->add(std::move(tool));
  }
  lua_settop(L, tools - 1);
  if (!status.ok()) return status.with_kind(ErrorKind::kInvalidArgument);
  return registry;
}

}  // namespace artana::host
