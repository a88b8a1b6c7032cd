// A host on a pipelined kernel (its steps commit on the store's thread) shows nothing of a
// run before it is in the ledger: a side effect starts once its request is committed, a
// script sees a result once it is committed, and a run is reported ended once its end is.
#include <catch2/catch.hpp>

#include <fstream>

#include "artana/host/host.h"
#include "artana/host/run_request.h"
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/kernel_fixture.h"
#include "support/temp_dir.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

constexpr char kScript[] = R"lua(
return function(run)
  local total = 0
  for i = 1, 25 do
    local t = run:now()
    local r = run:tool("probe", { i = i, t = t })
    total = total + r.result.head
  end
  return { total = total }
end
)lua";

}  // namespace

TEST_CASE(
    "a pipelined host starts a side effect and resumes a script only once the step is committed",
    "[host][pipeline]") {
  for (Durability durability : {Durability::kEffects, Durability::kFull}) {
    INFO(durability_name(durability));
    TempDir dir;
    LmdbStoreOptions store_options;
    store_options.durability = durability;
    auto store = open_lmdb_store((dir / "ledger").string(), store_options).value();
    auto kernel = Kernel::open(*store, host::policy_kernel_options(false)).value();
    host::Host host(*kernel, host::HostOptions{});
    // The tool's side effect looks at what the ledger has committed when it runs (head:
    // committed only, never waiting for what is in flight).
    std::vector<uint64_t> committed_at_call;
    host::NativeTool probe;
    probe.spec.name = "probe";
    probe.spec.side_effect = true;
    probe.spec.arguments = Json::object({{"type", "object"}});
    probe.fn = [&](const host::NativeCall& call, uint64_t token) {
      auto head = store->head(RunId(call.run_id));
      REQUIRE(head.ok());
      committed_at_call.push_back(head->head_seq);
      host::NativeReply reply;
      reply.value = Json::object({{"head", static_cast<int64_t>(head->head_seq)}});
      REQUIRE(host::complete_native(token, std::move(reply)) == host::CompleteResult::kDone);
    };
    REQUIRE(host.add_native_tool(std::move(probe)).ok());
    const auto path = dir / "probe.lua";
    std::ofstream(path) << kScript;
    host::RunOptions options;
    options.run_id = RunId("gate-1");
    options.tenant.tenant_id = TenantId("acme");
    REQUIRE(host.start(path.string(), options).ok());
    std::optional<host::RunOutcome> outcome;
    for (int i = 0; i < 100000 && !outcome; ++i) {
      host.tick(std::chrono::milliseconds(5));
      if (host.idle()) {
        outcome = host.outcome(RunId("gate-1"));
        if (!outcome) host.wait_for_work(std::chrono::milliseconds(50));
      }
    }
    REQUIRE(outcome.has_value());
    INFO(canonical_json(outcome->error).value());
    CHECK(outcome->status == RunStatus::kCompleted);
    // Reported ended: its end is committed.
    CHECK(store->head(RunId("gate-1"))->status == RunStatus::kCompleted);

    const std::vector<Event> events = events_of(*store, "gate-1");
    std::vector<uint64_t> requested;  // each tool_requested's seq, in order
    for (const Event& e : events)
      if (e.type == "tool_requested") requested.push_back(e.seq);
    REQUIRE(requested.size() == 25);
    REQUIRE(committed_at_call.size() == 25);
    for (size_t i = 0; i < requested.size(); ++i) {
      INFO("call " << i + 1);
      // The request (and the time read before it, which the script saw) was committed when
      // the side effect ran.
      CHECK(committed_at_call[i] >= requested[i]);
    }
    // The script saw each result once its completion was committed: the next call's view
    // includes the previous completion.
    for (size_t i = 1; i < requested.size(); ++i)
      CHECK(committed_at_call[i] > requested[i - 1] + 1);
  }
}
