// run:model answered by an OpenAI-compatible endpoint: the route of a live step, and the
// requests of its HttpModelCall sent through the host's I/O thread.
#include <cstdlib>
#include <ctime>

#include "script_run.h"

namespace artana::host {

std::optional<ScriptRun::ModelRoute> ScriptRun::route_model(const std::string& model) const {
  // A Lua port of that exact name; the application's native port of the name or its
  // longest prefix; the endpoint of the name or its longest prefix; a "*" Lua port; the
  // default endpoint.
  if (port_names_.count(model)) return ModelRoute{model, nullptr, {}};
  if (const NativeFunction* native = host_.native_port(model)) {
    ModelRoute route;
    route.native = native;
    return route;
  }
  const ModelEndpoints& endpoints = host_.options().models;
  for (const auto& [name, endpoint] : endpoints.entries) {
    if (&endpoint == endpoints.find(model)) return ModelRoute{{}, &endpoint, name};
  }
  if (port_names_.count("*")) return ModelRoute{"*", nullptr, {}};
  if (const ModelEndpoint* fallback = endpoints.default_endpoint()) {
    return ModelRoute{{}, fallback, "*"};
  }
  return std::nullopt;
}

Status ScriptRun::prepare_http_model(Task& task, const ModelRoute& route, bool stream) {
  const ModelEndpoint& endpoint = *route.endpoint;
  HttpModelCall::Setup setup;
  setup.endpoint = endpoint;
  setup.endpoint_name = route.endpoint_name;
  setup.stream = stream || endpoint.stream;
  setup.chat_only = host_.chat_only(endpoint.base_url);
  if (!endpoint.api_key_env.empty()) {
    // Read at each step: a key rotated in the environment is used from the next step on.
    const char* key = std::getenv(endpoint.api_key_env.c_str());
    if (key == nullptr || *key == '\0') {
      return Status::failed_precondition(
                 "model '{}' at endpoint '{}': the API key variable {} is not set",
                 task.model_call.model, route.endpoint_name, endpoint.api_key_env)
          .with_kind(ErrorKind::kModelFailed);
    }
    setup.api_key = key;
  }
  task.http_model = std::make_unique<HttpModelCall>(std::move(task.model_call), std::move(setup));
  return Status();
}

void ScriptRun::start_http_model(Task& task) {
  ++live_work_;  // the run keeps its lease while the call is in flight
  http_next(task, task.http_model->first());
}

void ScriptRun::http_result(uint64_t task_id, io::HttpResult result) {
  for (const auto& owned : tasks_) {
    Task& task = *owned;
    if (task.id != task_id) continue;
    if (task.wait == WaitKind::kTool && task.http_tool) {
      return http_tool_next(task, task.http_tool->on_result(result));
    }
    if (task.wait != WaitKind::kHttpModel || !task.http_model) continue;
    const HttpModelCall::OutputCheck check = [this, &task](const kernel::Json& output) {
      return kernel_.check_model_output(task.pending, output);
    };
    HttpModelCall::Next next =
        task.http_model->on_result(std::move(result), check, host_.jitter01(), std::time(nullptr));
    if (task.http_model->learned_chat_only()) host_.learned_chat_only(task.http_model->base_url());
    return http_next(task, std::move(next));
  }
}

void ScriptRun::http_next(Task& task, HttpModelCall::Next next) {
  if (next.send) {
    auto sent = host_.send_http(std::move(*next.send), *this, task.id);
    if (sent.ok()) return;
    kernel::ModelOutcome outcome;
    outcome.ok = false;
    outcome.category = kernel::FailureCategory::kPermanent;
    outcome.error = sent.status().message();
    next.done = std::move(outcome);
  }
  --live_work_;
  task.http_model.reset();
  const uint64_t ticket = task.pending.ticket();
  auto finished = kernel_.finish_model(std::move(task.pending), std::move(*next.done));
  if (!finished.ok()) return call_finished(task, ticket, finished.status());
  call_finished(task, ticket, model_result_json(std::move(*finished)));
}

}  // namespace artana::host
