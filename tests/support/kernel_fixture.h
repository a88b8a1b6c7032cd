// Helpers for kernel tests: a scripted model port that counts its calls, and a step runner
// that does begin_model -> port -> finish_model as a host would.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/store_fixture.h"

namespace artana::testing {

// The tenant the kernel's tests run as (start_request's default).
inline const kernel::TenantId kAcme{"acme"};

// Answers every call with {"text": "reply to <prompt>"} and a fixed cost; counts calls.
struct ScriptedModel {
  int calls = 0;
  int64_t cost_micro_usd = 1000;
  std::function<kernel::ModelOutcome(const kernel::ModelCall&)> answer;  // overrides the default
  kernel::ModelOutcome operator()(const kernel::ModelCall& call);
};

// begin_model, and when the step is live, the port and finish_model.
Result<kernel::ModelResult> run_model(kernel::Kernel& kernel, const std::string& tenant,
                                      const std::string& run, const kernel::ModelRequest& request,
                                      ScriptedModel& port);

kernel::ModelRequest prompt_request(const std::string& step_key, const std::string& prompt);

kernel::StartRunRequest start_request(const std::string& run, const std::string& tenant = "acme");

// Kernel::open, required to succeed.
std::unique_ptr<kernel::Kernel> open_kernel(kernel::EventStore& store,
                                            kernel::KernelOptions options = {});

// A ledger with a kernel on it (permissive unless `options` say otherwise); reopen() drops
// both, as a new process would.
struct KernelHost {
  TempDir dir;
  std::unique_ptr<kernel::EventStore> store;
  std::unique_ptr<kernel::Kernel> kernel;
  KernelHost() { reopen(); }
  void reopen(kernel::KernelOptions options = {});
};

// Starts `run` (tenant acme) and records one live model step `step_key` answered by `port`.
void start_run_with_step(KernelHost& host, ScriptedModel& port, const std::string& run,
                         const std::string& step_key, const std::string& prompt);

// Every event of `run` (a fork's shared prefix included).
std::vector<kernel::Event> events_of(kernel::EventStore& store, const std::string& run);
size_t count_type(const std::vector<kernel::Event>& events, const std::string& type);

}  // namespace artana::testing
