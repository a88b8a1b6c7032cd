// kernel_child: a process that dies in the middle of a call.
//   kernel_child DIR RUN_ID [model]
// Starts RUN_ID (tenant acme), begins the "charge" tool at step "pay", prints
// "in_tool <idempotency key>" once tool_requested is committed and synced, then waits on
// stdin without ever finishing the call: the test SIGKILLs it there. With `model`, begins a
// model step "ask" instead (which records nothing until answered) and prints "in_model".
#include <iostream>
#include <string>

#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"

using namespace artana;
using namespace artana::kernel;

int main(int argc, char** argv) {
  const bool model = argc == 4 && std::string(argv[3]) == "model";
  if (argc != 3 && !model) {
    std::cerr << "usage: kernel_child DIR RUN_ID [model]\n";
    return 2;
  }
  auto store = open_lmdb_store(argv[1]);  // effects: the request is synced before the call
  if (!store.ok()) {
    std::cout << "err " << store.status().to_string() << std::endl;
    return 1;
  }
  auto opened = Kernel::open(**store);
  if (!opened.ok()) {
    std::cout << "err " << opened.status().to_string() << std::endl;
    return 1;
  }
  Kernel& kernel = **opened;
  // The same tool as kernel_tool_test.cc registers: a different schema would be drift.
  Status added = kernel.tools().add(
      {"charge", "charges a card",
       Json::object({{"type", "object"}, {"required", Json::array({"amount"})}}), "1", "", true});
  StartRunRequest start;
  start.run_id = RunId(argv[2]);
  start.tenant.tenant_id = TenantId("acme");
  auto started = kernel.start_run(start);
  if (!added.ok() || !started.ok()) {
    std::cout << "err " << (added.ok() ? started.status() : added).to_string() << std::endl;
    return 1;
  }
  if (model) {
    ModelRequest ask;
    ask.step_key = "ask";
    ask.model = "demo-model";
    ask.prompt = "hello";
    auto step = kernel.begin_model(TenantId("acme"), RunId(argv[2]), ask);
    if (!step.ok() || !step->call) {
      std::cout << "err " << step.status().to_string() << std::endl;
      return 1;
    }
    std::cout << "in_model" << std::endl;
    std::string line;
    std::getline(std::cin, line);  // never answered: killed here, mid-call
    return 0;
  }
  ToolRequest request;
  request.step_key = "pay";
  request.tool = "charge";
  request.arguments = Json::object({{"amount", 42}});
  auto step = kernel.begin_tool(TenantId("acme"), RunId(argv[2]), request);
  if (!step.ok() || !step->call) {
    std::cout << "err " << step.status().to_string() << std::endl;
    return 1;
  }
  std::cout << "in_tool " << step->call->idempotency_key << std::endl;
  std::string line;
  std::getline(std::cin, line);  // never answered: killed here, mid-call
  return 0;
}
