// run:model — a model step: replayed from the ledger, or answered live by the script's
// model port (artana.model_port) running as a task of its own.
#include <cmath>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/lua_json.h"
#include "artana/lua/schema_shorthand.h"
#include "artana/lua/syscall_args.h"
#include "artana/lua/thread_calls.h"
#include "error_json.h"
#include "script_run.h"

namespace artana::host {

using kernel::Json;
using lua::SyscallReply;

namespace {

Status bad(std::string_view message) {
  return Status::invalid_argument("run:model: {}", message).with_kind(ErrorKind::kInvalidArgument);
}

// The script's request fields as a kernel ModelRequest, minus the step key. The fields are
// consumed: the prompt, messages and options are moved, not copied; messages left on the
// stack (ModelArgs::messages_source) are borrowed: `args` must outlive the request.
Result<kernel::ModelRequest> model_request(lua::ModelArgs& args,
                                           std::optional<std::string>* explicit_key) {
  using F = lua::ModelField;
  kernel::ModelRequest request;
  const std::optional<Json>& model = args[F::kModel];
  if (!model || !model->is_string() || model->as_string().empty())
    return bad("`model` must name a model port (a non-empty string)");
  request.model = model->as_string();
  std::optional<Json>& prompt = args[F::kPrompt];
  std::optional<Json>& messages = args[F::kMessages];
  if (prompt.has_value() == (messages.has_value() || args.messages_source.has_value()))
    return bad("give exactly one of `prompt` (a string) and `messages` (an array)");
  if (prompt) {
    if (!prompt->is_string()) return bad("`prompt` must be a string");
    request.prompt = std::move(prompt->as_string());
  } else if (args.messages_source) {
    request.messages_source = &*args.messages_source;  // args outlive the step's beginning
  } else {
    if (!messages->is_array()) return bad("`messages` must be an array of message tables");
    request.messages = std::move(*messages);
  }
  if (const std::optional<Json>& schema = args[F::kSchema]) {
    ARTANA_ASSIGN_OR_RETURN(Json compiled, lua::schema_from_shorthand(*schema, "schema"));
    request.output_schema = std::move(compiled);
  }
  if (const std::optional<Json>& tools = args[F::kTools]) {
    if (!tools->is_array()) return bad("`tools` must be an array of tool names");
    for (const Json& name : tools->as_array()) {
      if (!name.is_string()) return bad("`tools` must be an array of tool names");
      request.tools.push_back(name.as_string());
    }
  }
  if (std::optional<Json>& options = args[F::kOptions]) {
    if (!options->is_object()) return bad("`options` must be a table");
    request.options = std::move(*options);
  }
  if (const std::optional<Json>& replay = args[F::kReplay]) {
    if (!replay->is_string())
      return bad("`replay` must be strict, allow_prompt_drift or fork_on_drift");
    ARTANA_ASSIGN_OR_RETURN(request.replay, kernel::parse_replay_policy(replay->as_string()));
  }
  if (const std::optional<Json>& retry = args[F::kRetryFailed]) {
    if (!retry->is_bool()) return bad("`retry_failed` must be a boolean");
    request.retry_failed = retry->as_bool();
  }
  if (const std::optional<Json>& key = args[F::kStepKey]) {
    if (!key->is_string()) return bad("`step_key` must be a string");
    *explicit_key = key->as_string();
  }
  return request;
}

// What a Lua model port returned, as the kernel's ModelOutcome (its values moved, not copied).
}  // namespace

kernel::ModelOutcome ScriptRun::port_outcome(const std::string& port, Json&& result) {
  kernel::ModelOutcome outcome;
  auto fail = [&](std::string message) {
    outcome = kernel::ModelOutcome();
    outcome.ok = false;
    outcome.error = "model port '" + port + "' returned " + message;
    return outcome;
  };
  if (!result.is_object())
    return fail("a " + std::string(kernel::json_type_name(result.type())) +
                "; expected { output = ..., usage = ..., tool_calls = ... }");
  Json* output = result.find("output");
  if (output == nullptr) return fail("no `output`");
  outcome.output = std::move(*output);
  if (Json* usage = result.find("usage")) {
    if (!usage->is_object()) return fail("a `usage` that is not a table");
    outcome.usage = std::move(*usage);
    usage = &outcome.usage;
    if (const Json* cost = usage->find("cost_usd")) {
      if (!cost->is_number() || cost->as_number() < 0)
        return fail("a negative or non-numeric usage.cost_usd");
      outcome.cost_micro_usd = std::llround(cost->as_number() * 1e6);
    }
  }
  if (Json* calls = result.find("tool_calls")) {
    // `tool_calls = {}` is an empty Lua table: it crosses as an empty object.
    if (calls->is_object() && calls->size() == 0) return outcome;
    if (!calls->is_array()) return fail("`tool_calls` that is not an array");
    for (const Json& call : calls->as_array()) {
      const Json* name = call.find("name");
      if (name == nullptr || !name->is_string()) return fail("a tool call without a `name`");
    }
    outcome.tool_calls = std::move(*calls);
  }
  return outcome;
}

SyscallReply& ScriptRun::sys_model(lua_State* L, Task& task) {
  auto args = lua::decode_model(L);
  if (!args.ok()) return reply_error(args.status());
  bool stream = false;  // how an HTTP endpoint answers: not part of the request
  if (const std::optional<Json>& asked = (*args)[lua::ModelField::kStream]) {
    if (!asked->is_bool()) return reply_error(bad("`stream` must be a boolean"));
    stream = asked->as_bool();
  }
  std::optional<std::string> explicit_key;
  auto request = model_request(*args, &explicit_key);
  if (!request.ok()) return reply_error(request.status());
  auto key = claim_key(L, task, "model", explicit_key);
  if (!key.ok()) return reply_error(key.status());
  request->step_key = *key;
  if (!request->replay) request->replay = options_.replay;
  request->result_as_text = true;  // a replayed result goes from its text to Lua tables
  auto step = kernel_.begin_model(tenant_, run_id_, *request);
  if (!step.ok()) return reply_error(step.status(), *key);
  if (step->replayed) {
    note_drift(*key, step->replayed->drift_fields);
    if (!step->replayed->recorded_payload.empty())
      return reply_recorded_model(std::move(*step->replayed), *key);
    return reply_value(model_result_json(std::move(*step->replayed)));
  }
  if (step->adopted) return wait_adopted(task, *step->adopted, *key, L);
  // Live: routed only now, so a recorded step replays with no port or endpoint configured.
  const std::optional<ModelRoute> route = route_model(request->model);
  if (!route) {
    step->pending.abandon();  // nothing was appended
    return reply_error(ErrorKind::kModelFailed,
                       "no model port or endpoint for model '" + request->model +
                           "': register one with artana.model_port(\"" + request->model +
                           "\", function(request) ... end), or give the host an endpoint "
                           "(--model-endpoint URL, or --models FILE)",
                       *key);
  }
  task.model_call = std::move(*step->call);
  task.pending = std::move(step->pending);
  went_live_ = true;  // a live call: this execution has replayed what was recorded
  task.wait_step_key = *key;
  if (route->endpoint != nullptr) {
    Status prepared = prepare_http_model(task, *route, stream);
    if (!prepared.ok()) {
      task.pending.abandon();
      return reply_error(prepared, *key);
    }
    task.start = StartKind::kHttpModel;
    return reply_wait(task, WaitKind::kHttpModel, L);
  }
  if (route->native != nullptr) {
    task.start = StartKind::kNativeModel;
    return reply_wait(task, WaitKind::kNative, L);
  }
  task.start = StartKind::kModelPort;
  return reply_wait(task, WaitKind::kModelPort, L);
}

Json ScriptRun::model_port_request(kernel::ModelCall& call) {
  Json::Object members;
  members.reserve(8);
  members.emplace_back("model", call.model);
  members.emplace_back("step_key", call.step_key);
  members.emplace_back("run_id", call.run_id.str());
  members.emplace_back("tools", std::move(call.tools));
  members.emplace_back("options", std::move(call.options));
  if (call.prompt) members.emplace_back("prompt", std::move(*call.prompt));
  if (call.messages) members.emplace_back("messages", std::move(*call.messages));
  if (call.output_schema) members.emplace_back("schema", std::move(*call.output_schema));
  return Json(std::move(members));
}

void ScriptRun::start_model_port(Task& waiter) {
  // The call's values are moved into the port's request: only its model name is used later.
  kernel::ModelCall& call = waiter.model_call;
  const Json request = model_port_request(call);
  lua_State* thread = lua_->new_thread();
  if (thread == nullptr) return killed();
  const std::string port = port_names_.count(call.model) ? call.model : "*";  // route_model
  auto args = lua::prepare_call(lua_->state(), thread, api_.call, api_.ports, port, {}, 0,
                                {lua::CallArg{lua::kNoRef, &request}});
  if (!args.ok()) {
    lua_->release_thread(thread);
    if (lua_->killed()) return killed();
    kernel::ModelOutcome outcome;
    outcome.ok = false;
    outcome.error = args.status().message();
    auto finished = kernel_.finish_model(std::move(waiter.pending), std::move(outcome));
    return resume_with_status(waiter, finished.status(), waiter.wait_step_key);
  }
  Task* port_task = new_task(TaskKind::kPort, thread);
  port_task->waiter = &waiter;
  ++live_work_;
  make_ready(*port_task, *args);
}

void ScriptRun::port_returned(Task& port, int nresults) {
  Json result;
  std::string problem;
  if (nresults > 0) {
    auto converted = lua::to_json(port.thread, -nresults, "result");
    if (!converted.ok() && lua_->killed()) return killed();  // too big to build: a limit
    if (converted.ok()) {
      result = std::move(*converted);
    } else {
      problem = converted.status().message();
    }
  }
  Task& waiter = *port.waiter;
  kernel::ModelOutcome outcome;
  if (!problem.empty()) {
    outcome.ok = false;
    outcome.error = "model port '" + waiter.model_call.model + "' returned " + problem;
  } else {
    outcome = port_outcome(waiter.model_call.model, std::move(result));
  }
  finish_task(port);
  --live_work_;
  const uint64_t ticket = waiter.pending.ticket();
  auto finished = kernel_.finish_model(std::move(waiter.pending), std::move(outcome));
  if (!finished.ok()) return call_finished(waiter, ticket, finished.status());
  call_finished(waiter, ticket, model_result_json(std::move(*finished)));
}

void ScriptRun::port_raised(Task& port) {
  const lua::BoundaryError error = lua::read_error(port.thread, -1);
  Task& waiter = *port.waiter;
  kernel::ModelOutcome outcome;
  outcome.ok = false;
  // A port marks a failure worth retrying later (rate limit, timeout) with this kind.
  outcome.transient = parse_error_kind(error.kind) == ErrorKind::kTransientError;
  outcome.error = std::string(error.message);
  finish_task(port);
  --live_work_;
  const uint64_t ticket = waiter.pending.ticket();
  auto finished = kernel_.finish_model(std::move(waiter.pending), std::move(outcome));
  call_finished(waiter, ticket, finished.status());
}

namespace {

// The members of a recorded model_completed payload that are the script's result; the
// rest of it (cost, request hash, step key) is the ledger's.
constexpr std::string_view kModelResultMembers[] = {"output", "usage", "tool_calls"};

// What the script's result holds beside the model's answer, with room for `more` members.
Json::Object result_facts(const kernel::ModelResult& result, size_t more) {
  Json::Object facts;
  facts.reserve(3 + more);
  facts.emplace_back("replayed", result.replayed);
  facts.emplace_back("seq", static_cast<int64_t>(result.seq));
  facts.emplace_back("run_id", result.run_id.str());
  return facts;
}

}  // namespace

SyscallReply& ScriptRun::reply_recorded_model(kernel::ModelResult&& result,
                                              const std::string& step_key) {
  reply_.kind = SyscallReply::Kind::kRecordedValue;
  reply_.source = std::move(result.recorded_payload);
  reply_.members = kModelResultMembers;
  reply_.value = Json(result_facts(result, 0));
  reply_.chunkname = step_key;  // named if the text is not JSON (the bridge: storage_error)
  return reply_;
}

Json ScriptRun::model_result_json(kernel::ModelResult&& result) {
  Json::Object members = result_facts(result, std::size(kModelResultMembers));
  Json* answer[] = {&result.output, &result.usage, &result.tool_calls};  // kModelResultMembers
  for (size_t i = 0; i < std::size(kModelResultMembers); ++i) {
    members.emplace_back(std::string(kModelResultMembers[i]), std::move(*answer[i]));
  }
  return Json(std::move(members));
}

}  // namespace artana::host
