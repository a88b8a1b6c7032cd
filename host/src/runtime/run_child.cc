// run:child: a step whose work is a child run (kernel_child.cc decides the step; the Host
// executes the child, host_children.cc). The parent's task waits while the child executes;
// the child's end is recorded and returned, or its stop holds the parent.
#include <cmath>

#include "artana/kernel/sha256.h"
#include "artana/lua/syscall_args.h"
#include "script_run.h"
#include "workspace_path.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallReply;

namespace {

Status bad(std::string_view message) {
  return Status::invalid_argument("run:child: {}", message).with_kind(ErrorKind::kInvalidArgument);
}

// A path inside the caller's folder: relative, no '..' or empty part, no backslash.
Status check_child_path(const std::string& script) {
  bool inside = !script.empty() && script.front() != '/' && script.find('\\') == std::string::npos;
  size_t start = 0;
  while (inside && start <= script.size()) {
    size_t end = script.find('/', start);
    if (end == std::string::npos) end = script.size();
    const std::string_view part(script.data() + start, end - start);
    inside = !part.empty() && part != "." && part != "..";
    start = end + 1;
  }
  if (inside) return Status();
  return Status::permission_denied(
             "run:child('{}'): a child's script is a relative path inside the script's folder "
             "(no '..', no absolute path)",
             script)
      .with_kind(ErrorKind::kSandboxViolation);
}

// options: {run_id, caps, budget_usd, input, step_key} (the prelude refused other fields).
struct ChildOptions {
  std::optional<std::string> run_id, step_key;
  std::optional<std::vector<std::string>> caps;
  std::optional<int64_t> budget_micro_usd;
  Json input = Json::object();
};

Result<ChildOptions> parse_child_options(const Json& options) {
  ChildOptions out;
  for (const char* name : {"run_id", "step_key"}) {
    const Json* value = options.find(name);
    if (value == nullptr) continue;
    if (!value->is_string() || value->as_string().empty())
      return bad(std::string(name) + " must be a non-empty string");
    (std::string_view(name) == "run_id" ? out.run_id : out.step_key) = value->as_string();
  }
  if (const Json* caps = options.find("caps")) {
    out.caps.emplace();
    if (!caps->is_array()) return bad("caps must be an array of capability names");
    for (const Json& cap : caps->as_array()) {
      if (!cap.is_string() || cap.as_string().empty())
        return bad("caps must be an array of capability names");
      out.caps->push_back(cap.as_string());
    }
  }
  if (const Json* budget = options.find("budget_usd")) {
    const double usd = budget->is_number() ? budget->as_number() : -1;
    if (!std::isfinite(usd) || usd < 0 || usd > 1e9)
      return bad("budget_usd must be a number of dollars from 0 to 1e9");
    out.budget_micro_usd = std::llround(usd * 1e6);
  }
  if (const Json* input = options.find("input")) out.input = *input;
  return out;
}

// `<run>::child::<step key>`, or with 12 hex of the step key's SHA-256 when that is no id.
kernel::RunId derived_child_id(const kernel::RunId& parent, const std::string& step_key) {
  std::string id = parent.str() + "::child::" + step_key;
  if (kernel::check_identifier("run id", id).ok()) return kernel::RunId(id);
  return kernel::RunId(parent.str() +
                       "::child::" + kernel::Sha256::of(step_key).hex().substr(0, 12));
}

}  // namespace

SyscallReply& ScriptRun::sys_child(lua_State* L, Task& task) {
  auto args = lua::decode_child(L);
  if (!args.ok()) return reply_error(args.status());
  auto options = parse_child_options(args->options);
  if (!options.ok()) return reply_error(options.status());
  auto key = claim_key(L, task, "child", options->step_key);
  if (!key.ok()) return reply_error(key.status());
  Status inside = check_child_path(args->script);
  if (!inside.ok()) return reply_error(inside, *key);
  if (script_.folder().empty()) {
    return reply_error(Status::permission_denied("run:child('{}'): script '{}' was loaded from "
                                                 "memory and has no folder to start a child "
                                                 "script from",
                                                 args->script, script_.entry_path())
                           .with_kind(ErrorKind::kSandboxViolation),
                       *key);
  }
  // A symlink inside the folder may lead out of it: judged again on the real path.
  if (auto real = resolve_inside(script_.folder(), args->script, "run:child script"); !real.ok())
    return reply_error(real.status(), *key);
  auto executing = kernel_.executing_run(tenant_, run_id_);
  if (!executing.ok()) return reply_error(executing.status(), *key);
  kernel::ChildRequest request;
  request.step_key = *key;
  request.child_run_id =
      options->run_id ? kernel::RunId(*options->run_id) : derived_child_id(*executing, *key);
  if (options->run_id) {
    Status valid = kernel::check_identifier("run:child run_id", *options->run_id);
    if (!valid.ok()) return reply_error(valid.with_kind(ErrorKind::kInvalidArgument), *key);
  }
  request.script = args->script;
  request.capabilities = std::move(options->caps);
  request.budget_micro_usd = options->budget_micro_usd;
  request.input = std::move(options->input);
  auto step = kernel_.begin_child(tenant_, run_id_, request);
  if (!step.ok()) return reply_error(step.status(), *key);
  if (step->state == kernel::ChildStep::State::kEnded) {
    Result<Json> ended = child_result(step->completion, step->child_run_id, true, *key);
    if (!ended.ok()) return reply_error(ended.status(), *key);
    return reply_value(std::move(*ended));
  }
  auto child = std::make_shared<RunOptions>();
  child->run_id = step->child_run_id;
  child->tenant = step->start.tenant;
  child->replay = step->start.replay;
  child->input = step->start.input;
  if (const Json* seed = step->start.metadata.find("seed"); seed && seed->is_integer())
    child->seed = seed->as_integer();
  child->parent_run_id = step->start.parent_run_id;
  // Under pinned code a child that recorded its own goes on under that too (a new child has
  // none yet: its file is read).
  if (script_.is_pinned()) {
    auto record = kernel_.run_record(tenant_, step->child_run_id);
    child->pinned = record.ok() && !record->script.is_null();
  }
  task.wait_step_key = *key;
  task.child_path = script_.folder() + "/" + args->script;
  task.child_options = std::move(child);
  task.due_us = 0;
  ++live_work_;
  host_.start_child(*this, task.id, *key, task.child_path, *task.child_options);
  return reply_wait(task, WaitKind::kChild, L);
}

Result<Json> ScriptRun::child_result(const Json& completion, const kernel::RunId& child,
                                     bool replayed, const std::string& step_key) {
  const Json* status = completion.find("status");
  if (status != nullptr && status->is_string() && status->as_string() == "completed") {
    const Json* output = completion.find("output");
    return Json::object({{"output", output != nullptr ? *output : Json()},
                         {"status", "completed"},
                         {"run_id", child.str()},
                         {"replayed", replayed}});
  }
  const Json* error = completion.find("error");
  const Json* kind = error != nullptr ? error->find("kind") : nullptr;
  const Json* message = error != nullptr ? error->find("message") : nullptr;
  return Status::failed_precondition(
             "child run '{}' {}: {}: {}", child.str(),
             status != nullptr && status->is_string() ? status->as_string() : "failed",
             kind != nullptr && kind->is_string() ? kind->as_string() : "error",
             message != nullptr && message->is_string() ? message->as_string() : "")
      .with_kind(ErrorKind::kChildFailed, step_key);
}

Task* ScriptRun::child_waiter(uint64_t task_id) {
  for (const auto& task : tasks_) {
    if (task->id == task_id && task->state == TaskState::kWaiting && task->wait == WaitKind::kChild)
      return task.get();
  }
  return nullptr;
}

void ScriptRun::child_stopped(uint64_t task_id, const RunOutcome& outcome) {
  Task* task = child_waiter(task_id);
  if (task == nullptr || ended_) return;
  --live_work_;
  const kernel::RunId child = *task->child_options->run_id;
  kernel::ChildEnd end{outcome.status, outcome.output, outcome.error, std::nullopt};
  if (outcome.status == kernel::RunStatus::kSleeping) {
    auto due = kernel_.wake_time(tenant_, child);
    if (due.ok()) end.due_at_us = *due;
  }
  Status recorded = kernel_.end_child(tenant_, run_id_, task->wait_step_key, child, end);
  if (!recorded.ok()) return resume_with_status(*task, recorded, task->wait_step_key);
  if (!kernel::run_ended(outcome.status)) {
    // The child holds this run: the task waits (for the child's timer, when it sleeps).
    task->due_us = end.due_at_us.value_or(0);
    if (task->due_us > 0) host_.arm_timer(*this, task->due_us);
    return;
  }
  Json completion = Json::object({{"status", kernel::run_status_name(outcome.status)},
                                  {"output", outcome.output},
                                  {"error", outcome.error}});
  Result<Json> result = child_result(completion, child, false, task->wait_step_key);
  if (!result.ok()) return resume_with_status(*task, result.status(), task->wait_step_key);
  resume_with(*task, *result);
}

void ScriptRun::child_not_started(uint64_t task_id, const Status& status) {
  Task* task = child_waiter(task_id);
  if (task == nullptr) return;
  --live_work_;
  resume_with_status(*task, status, task->wait_step_key);
}

void ScriptRun::respawn_children() {
  for (const auto& task : tasks_) {
    if (task->state != TaskState::kWaiting || task->wait != WaitKind::kChild) continue;
    if (host_.children_.count(task->child_options->run_id->str())) continue;  // executing
    task->due_us = 0;
    ++live_work_;
    host_.start_child(*this, task->id, task->wait_step_key, task->child_path, *task->child_options);
  }
}

}  // namespace artana::host
