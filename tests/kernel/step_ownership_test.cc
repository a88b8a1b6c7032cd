// Who may execute a run's steps: a live call only once the execution holds the run's lease,
// and no append decided from a stale view of the run.
#include <catch2/catch.hpp>

#include "support/child_process.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

using Host = KernelHost;

}  // namespace

TEST_CASE("an append decided from a stale view of the run is refused, never appended",
          "[kernel][steps][conflict]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  // A second kernel on the same ledger (another process's view) loads the run.
  auto other_kernel = open_kernel(*host.store);
  Kernel& other = *other_kernel;
  REQUIRE(other.status(kAcme, RunId("r1")).ok());
  // The first moves the run on.
  ScriptedModel port;
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "x"), port).ok());
  const size_t before = events_of(*host.store, "r1").size();
  // The stale view decides from what it saw: refused as a conflict, nothing written.
  auto stale = other.value_step(kAcme, RunId("r1"), "time:1", ValueKind::kTime,
                                []() -> Result<Json> { return Json(1); });
  CHECK(stale.status().code() == StatusCode::kConflict);
  CHECK(visible_kind(stale.status()) == ErrorKind::kLeaseHeld);
  CHECK(events_of(*host.store, "r1").size() == before);
}

// A model step records nothing until it is answered, so an execution of a run it did not
// create would make its call before any append told it another process holds the run: the
// step machine takes the lease before every live call.
TEST_CASE("a model step of a run another live process executes makes no call, lease_held",
          "[kernel][steps][lease]") {
  const bool pipelined = GENERATE(false, true);
  INFO("pipelined commits: " << pipelined);
  Host host;
  host.kernel.reset();
  host.store.reset();
  ChildProcess child({ARTANA_KERNEL_CHILD, host.dir.str(), "asking", "model"});
  const std::string line = child.read_line();
  INFO(line);
  REQUIRE(line == "in_model");
  host.reopen();
  KernelOptions options;
  options.pipelined_commits = pipelined;
  host.kernel = open_kernel(*host.store, options);
  const size_t before = events_of(*host.store, "asking").size();

  ScriptedModel port;
  auto refused = run_model(*host.kernel, "acme", "asking", prompt_request("ask", "hello"), port);
  CHECK(refused.status().code() == StatusCode::kLeaseHeld);
  CHECK(refused.status().step_key() == "ask");
  CHECK(port.calls == 0);
  CHECK(events_of(*host.store, "asking").size() == before);

  // Its owner gone, the next execution takes the run and makes the call, once.
  child.kill_hard();
  auto asked = run_model(*host.kernel, "acme", "asking", prompt_request("ask", "hello"), port);
  INFO(asked.status().to_string());
  REQUIRE(asked.ok());
  CHECK(port.calls == 1);
  host.kernel.reset();  // its pipelined commits land
  CHECK(count_type(events_of(*host.store, "asking"), "model_completed") == 1);
}
