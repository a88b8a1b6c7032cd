// Starting an execution: the script's chunk has run (tools and ports registered, top-level
// modules required); now the run is started or resumed under this code, and the entry gets
// the run object and the recorded input.
#include <cstdlib>
#include <cstring>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"
#include "artana/lua/schema_shorthand.h"
#include "artana/lua/syscall_args.h"
#include "builtin_tools.h"
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
  auto name = lua::decode_module_name(L);
  if (!name.ok()) return reply_error(name.status());
  auto module = script_.read_module(*name);
  if (!module.ok()) return reply_error(module.status().with_kind(ErrorKind::kScriptError));
  if (!script_.is_pinned()) {
    // Kept content-addressed so `--pinned` can execute the run under exactly this code.
    Status stored = host_.store_source(*module);
    if (!stored.ok()) return reply_error(stored);
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
  ARTANA_ASSIGN_OR_RETURN(std::shared_ptr<const kernel::ToolRegistry> tools, script_tools());
  port_names_.clear();
  for (std::string& name : lua::registered_port_names(lua_->state(), api_)) {
    port_names_.insert(std::move(name));
  }

  const kernel::TenantId& caller = options_.tenant.tenant_id;
  if (carried_) {
    // Executed again by a reload: the facts the last execution worked from, as recorded.
    run_id_ = std::move(carried_->run_id);
    tenant_ = std::move(carried_->tenant);
    input_ = std::move(carried_->input);
    seed_ = carried_->seed;
    carried_.reset();
    if (!script_.is_pinned()) ARTANA_RETURN_IF_ERROR(host_.store_source(script_.entry()));
    return finish_start(std::move(tools));
  }
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
    // The run, its script_loaded and the source that event names by hash: one commit.
    kernel::StartRunRequest request;
    if (!script_.is_pinned()) request.sources.push_back(script_.entry().text);
    request.script_identity = script_identity();
    request.run_id = options_.run_id ? *options_.run_id : kernel::Kernel::new_run_id();
    request.tenant = options_.tenant;
    request.script_hash = script_.combined_hash();
    request.input = options_.input;
    request.replay = options_.replay.value_or(kernel::ReplayPolicy::kStrict);
    request.parent_run_id = options_.parent_run_id;
    const int64_t seed = options_.seed ? *options_.seed : seed_from_run_id(*request.run_id);
    request.metadata = Json::object({{"seed", seed}});
    auto started = kernel_.start_run(request);
    if (started.status().code() == StatusCode::kAlreadyExists && options_.run_id) {
      // Another process started this id since we looked: the run is theirs now, so this is
      // an execution of an existing run (it waits for the lease, or replays the run).
      auto found = kernel_.run_record(caller, *options_.run_id);
      if (!found.ok()) return found.status();
      record = std::move(*found);
    } else if (!started.ok()) {
      return started.status();
    } else {
      // Started here. The input as recorded (the kernel's rewrites, PII, applied to it).
      auto found = kernel_.run_record(caller, *started);
      if (!found.ok()) return found.status();
      run_id_ = *started;
      tenant_ = found->tenant.tenant_id;
      input_ = std::move(found->input);
      seed_ = seed;
    }
  }
  if (record) {
    // An execution of a recorded run: its tenant, input and seed are the recorded ones.
    run_id_ = record->run_id;
    if (record->status == kernel::RunStatus::kNeedsAttention) {
      // Running it again is the operator's answer to what halted it (new code, a fix).
      ARTANA_RETURN_IF_ERROR(kernel_.resume(caller, run_id_, Json::object()));
    }
    tenant_ = record->tenant.tenant_id;
    input_ = std::move(record->input);
    const Json* seed = record->metadata.find("seed");
    seed_ = seed != nullptr && seed->is_integer() ? seed->as_integer() : seed_from_run_id(run_id_);
    if (!script_.is_pinned()) ARTANA_RETURN_IF_ERROR(host_.store_source(script_.entry()));
  }
  return finish_start(std::move(tools));
}

Status ScriptRun::finish_start(std::shared_ptr<const kernel::ToolRegistry> tools) {
  const kernel::TenantId& caller = options_.tenant.tenant_id;
  ARTANA_RETURN_IF_ERROR(kernel_.set_run_tools(caller, run_id_, std::move(tools)));
  ARTANA_RETURN_IF_ERROR(kernel_.record_script(caller, run_id_, script_identity()));
  ARTANA_ASSIGN_OR_RETURN(mark_, kernel_.commit_mark(caller, run_id_));
  started_ = true;
  return Status();
}

Result<std::shared_ptr<const kernel::ToolRegistry>> ScriptRun::script_tools() {
  auto registered = lua::registered_tools(lua_->state(), api_);
  if (!registered.ok()) return registered.status().with_kind(ErrorKind::kInvalidArgument);
  // No tool of the script's own (most runs): the host's registry, shared.
  if (registered->empty()) return host_.shared_tools();
  auto registry = std::make_shared<kernel::ToolRegistry>();
  for (lua::RegisteredToolFields& fields : *registered) {
    auto schema = lua::schema_from_shorthand(fields.args, "args");
    if (!schema.ok()) {
      return Status::invalid_argument("tool '{}': {}", fields.name, schema.status().message())
          .with_kind(ErrorKind::kInvalidArgument);
    }
    kernel::ToolSpec tool;
    tool.name = std::move(fields.name);
    tool.description = std::move(fields.description);
    tool.capability = std::move(fields.capability);
    tool.version = std::move(fields.version);
    tool.side_effect = fields.side_effect;
    tool.arguments = std::move(*schema);
    Status added = registry->add(std::move(tool));
    if (!added.ok()) return added.with_kind(ErrorKind::kInvalidArgument);
  }
  ARTANA_RETURN_IF_ERROR(host_.add_host_tools(*registry));
  return std::shared_ptr<const kernel::ToolRegistry>(std::move(registry));
}

}  // namespace artana::host
