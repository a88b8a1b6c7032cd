#include "support/kernel_fixture.h"

#include <catch2/catch.hpp>

namespace artana::testing {

using namespace artana::kernel;

ModelOutcome ScriptedModel::operator()(const ModelCall& call) {
  ++calls;
  if (answer) return answer(call);
  ModelOutcome out;
  out.output = Json::object({{"text", "reply to " + call.prompt.value_or("messages")}});
  out.usage = Json::object({{"prompt_tokens", 3}, {"completion_tokens", 2}});
  out.cost_micro_usd = cost_micro_usd;
  return out;
}

Result<ModelResult> run_model(Kernel& kernel, const std::string& tenant, const std::string& run,
                              const ModelRequest& request, ScriptedModel& port) {
  ARTANA_ASSIGN_OR_RETURN(ModelStep step,
                          kernel.begin_model(TenantId(tenant), RunId(run), request));
  if (step.replayed) return std::move(*step.replayed);
  REQUIRE(step.call.has_value());
  return kernel.finish_model(std::move(step.pending), port(*step.call));
}

ModelRequest prompt_request(const std::string& step_key, const std::string& prompt) {
  ModelRequest request;
  request.step_key = step_key;
  request.model = "demo-model";
  request.prompt = prompt;
  return request;
}

StartRunRequest start_request(const std::string& run, const std::string& tenant) {
  StartRunRequest request;
  request.run_id = RunId(run);
  request.tenant.tenant_id = TenantId(tenant);
  request.input = Json::object({{"goal", "test"}});
  return request;
}

std::unique_ptr<Kernel> open_kernel(EventStore& store, KernelOptions options) {
  auto opened = Kernel::open(store, std::move(options));
  REQUIRE(opened.ok());
  return std::move(opened).value();
}

void KernelHost::reopen(KernelOptions options) {
  kernel.reset();
  store.reset();
  store = open_store(dir.str());
  kernel = open_kernel(*store, std::move(options));
}

void start_run_with_step(KernelHost& host, ScriptedModel& port, const std::string& run,
                         const std::string& step_key, const std::string& prompt) {
  REQUIRE(host.kernel->start_run(start_request(run)).ok());
  REQUIRE(run_model(*host.kernel, "acme", run, prompt_request(step_key, prompt), port).ok());
}

std::vector<Event> events_of(EventStore& store, const std::string& run) {
  auto events = store.read(RunId(run));
  REQUIRE(events.ok());
  return std::move(events).value();
}

size_t count_type(const std::vector<Event>& events, const std::string& type) {
  size_t n = 0;
  for (const Event& e : events) n += e.type == type ? 1 : 0;
  return n;
}

}  // namespace artana::testing
