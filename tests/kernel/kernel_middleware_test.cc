// The enforced middleware chain: construction checks, fixed order, quota and budget raise,
// unknown costs, custom refusals, and PII that never reaches the ledger's bytes.
#include <catch2/catch.hpp>

#include <filesystem>

#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

// A custom middleware that notes each judgement and can refuse tools.
class Recorder : public Middleware {
 public:
  explicit Recorder(std::vector<std::string>* log) : log_(log) {}
  Kind kind() const override { return Kind::kCustom; }
  std::string_view name() const override { return "recorder"; }
  Status judge(const StepContext& ctx, const StepRequest& request) override {
    if (request.model != nullptr) {
      log_->push_back("model " + ctx.step_key);
      return Status();
    }
    log_->push_back("tool " + ctx.step_key);
    if (request.tool->arguments.find("forbidden") != nullptr) {
      return Status::permission_denied("no forbidden arguments")
          .with_kind(ErrorKind::kPolicyViolation, ctx.step_key);
    }
    return Status();
  }

 private:
  std::vector<std::string>* log_;
};

KernelOptions enforced(std::vector<std::string>* log = nullptr, QuotaOptions quota = {}) {
  KernelOptions options;
  options.mode = PolicyMode::kEnforced;
  // Given out of order on purpose: the kernel puts them in its own order.
  if (log != nullptr) options.middleware.push_back(std::make_shared<Recorder>(log));
  options.middleware.push_back(make_capability_guard());
  options.middleware.push_back(make_quota_guard(quota));
  options.middleware.push_back(make_pii_scrubber());
  return options;
}

struct Host {
  TempDir dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Kernel> kernel;
  std::vector<std::string> log;
  QuotaOptions quota;
  Host() { reopen(); }
  void reopen() {
    kernel.reset();
    store.reset();
    store = open_store(dir.str());
    auto created = Kernel::open(*store, enforced(&log, quota));
    REQUIRE(created.ok());
    kernel = std::move(created).value();
    REQUIRE(
        kernel->tools()
            .add({"notify", "sends a message", Json::object({{"type", "object"}}), "1", "", true})
            .ok());
  }
};

StartRunRequest budgeted(const std::string& run, int64_t budget) {
  StartRunRequest request = start_request(run);
  request.tenant.budget_micro_usd = budget;
  return request;
}

// A port that answers without reporting a cost.
ScriptedModel unpriced_model() {
  ScriptedModel port;
  port.answer = [](const ModelCall&) {
    ModelOutcome out;
    out.output = Json::object({{"text", "ok"}});
    return out;  // no cost_micro_usd
  };
  return port;
}

}  // namespace

TEST_CASE("an enforced kernel without PII, quota or capability guard is refused naming it",
          "[kernel][middleware]") {
  TempDir dir;
  auto store = open_store(dir.str());
  for (int missing = 0; missing < 3; ++missing) {
    KernelOptions options;
    options.mode = PolicyMode::kEnforced;
    if (missing != 0) options.middleware.push_back(make_pii_scrubber());
    if (missing != 1) options.middleware.push_back(make_quota_guard());
    if (missing != 2) options.middleware.push_back(make_capability_guard());
    auto kernel = Kernel::open(*store, options);
    REQUIRE_FALSE(kernel.ok());
    CHECK(kernel.status().code() == StatusCode::kInvalidArgument);
    const char* names[] = {"PII scrubber", "quota guard", "capability guard"};
    CHECK_THAT(kernel.status().message(), Catch::Contains(names[missing]));
  }
  REQUIRE(Kernel::open(*store, enforced()).ok());
}

TEST_CASE("the quota refuses the call after the budget is spent, sticky until a raise",
          "[kernel][middleware][quota]") {
  Host host;
  REQUIRE(host.kernel->start_run(budgeted("r1", 2500)).ok());
  ScriptedModel port;  // 1000 micro-USD a call
  for (int i = 1; i <= 3; ++i) {
    REQUIRE(
        run_model(*host.kernel, "acme", "r1", prompt_request("t" + std::to_string(i), "go"), port)
            .ok());
  }
  // 3000 spent of 2500: the overshoot is recorded, the next call is refused before it is made.
  auto refused = run_model(*host.kernel, "acme", "r1", prompt_request("t4", "go"), port);
  CHECK(refused.status().kind() == "budget_exceeded");
  CHECK_THAT(refused.status().message(), Catch::Contains("3000"));
  CHECK(port.calls == 3);
  CHECK(host.log == std::vector<std::string>{"model t1", "model t2", "model t3"});
  CHECK(*host.kernel->status(TenantId("acme"), RunId("r1")) == RunStatus::kNeedsAttention);
  auto sticky = run_model(*host.kernel, "acme", "r1", prompt_request("t5", "go"), port);
  CHECK(sticky.status().kind() == "budget_exceeded");
  CHECK(count_type(events_of(*host.store, "r1"), "run_halted") == 1);

  REQUIRE(host.kernel->raise_budget("ops@acme", RunId("r1"), 10000).ok());
  REQUIRE(host.kernel->resume(TenantId("acme"), RunId("r1"), Json()).ok());
  auto retried = run_model(*host.kernel, "acme", "r1", prompt_request("t4", "go"), port);
  REQUIRE(retried.ok());
  CHECK_FALSE(retried->replayed);
  CHECK(port.calls == 4);

  // A replay judges nothing and appends nothing.
  const size_t events = events_of(*host.store, "r1").size();
  host.reopen();
  host.log.clear();
  ScriptedModel replay;
  for (int i = 1; i <= 4; ++i) {
    auto r = run_model(*host.kernel, "acme", "r1", prompt_request("t" + std::to_string(i), "go"),
                       replay);
    REQUIRE(r.ok());
    CHECK(r->replayed);
  }
  CHECK(replay.calls == 0);
  CHECK(host.log.empty());
  CHECK(events_of(*host.store, "r1").size() == events);
}

TEST_CASE("a model that reports no cost is refused after its first call unless allowed",
          "[kernel][middleware][quota]") {
  Host host;
  REQUIRE(host.kernel->start_run(budgeted("r1", 1000000)).ok());
  ScriptedModel unpriced = unpriced_model();
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "go"), unpriced).ok());
  auto refused = run_model(*host.kernel, "acme", "r1", prompt_request("b", "go"), unpriced);
  CHECK(refused.status().kind() == "policy_violation");
  CHECK(count_type(events_of(*host.store, "r1"), "step_denied") == 1);

  Host allowing;
  allowing.quota.allow_unknown_cost = true;
  allowing.reopen();
  REQUIRE(allowing.kernel->start_run(budgeted("r1", 1000000)).ok());
  REQUIRE(run_model(*allowing.kernel, "acme", "r1", prompt_request("a", "go"), unpriced).ok());
  REQUIRE(run_model(*allowing.kernel, "acme", "r1", prompt_request("b", "go"), unpriced).ok());
}

TEST_CASE("an unpriced model learned in one process is refused in the next, for that tenant only",
          "[kernel][middleware][quota]") {
  Host host;
  REQUIRE(host.kernel->start_run(budgeted("r1", 1000000)).ok());
  ScriptedModel unpriced = unpriced_model();
  REQUIRE(run_model(*host.kernel, "acme", "r1", prompt_request("a", "go"), unpriced).ok());
  host.reopen();  // a new process: nothing in memory
  auto refused = run_model(*host.kernel, "acme", "r1", prompt_request("b", "go"), unpriced);
  CHECK(refused.status().kind() == "policy_violation");
  CHECK_THAT(refused.status().message(), Catch::Contains("demo-model"));
  StartRunRequest other = budgeted("g1", 1000000);
  other.tenant.tenant_id = TenantId("globex");
  REQUIRE(host.kernel->start_run(other).ok());
  // Another tenant has not learned it: its first call goes ahead.
  CHECK(run_model(*host.kernel, "globex", "g1", prompt_request("a", "go"), unpriced).ok());
  CHECK(unpriced.calls == 2);
  auto report = host.store->verify();
  REQUIRE(report.ok());
  CHECK(report->ok);
}

TEST_CASE("a custom middleware refusal is audited and leaves the step open",
          "[kernel][middleware]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  ToolRequest request;
  request.step_key = "n1";
  request.tool = "notify";
  request.arguments = Json::object({{"forbidden", true}});
  auto refused = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), request);
  CHECK(refused.status().kind() == "policy_violation");
  auto events = events_of(*host.store, "r1");
  REQUIRE(count_type(events, "step_denied") == 1);
  CHECK(events.back().payload.find("middleware")->as_string() == "recorder");
  CHECK(count_type(events, "tool_requested") == 0);
  request.arguments = Json::object({{"text", "fine"}});
  auto allowed = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), request);
  REQUIRE(allowed.ok());
  CHECK(allowed->call.has_value());
}

TEST_CASE("PII never reaches the ledger's bytes while the tool sees the real values",
          "[kernel][middleware][pii]") {
  const std::string email = "jane.doe@example.com";
  const std::string phone = "+1 415-555-0132";
  const std::string card = "4111 1111 1111 1111";
  const std::string ssn = "219-09-9999";
  const std::string key = "sk-proj-abcdefghijklmnopqrstuvwxyz012345";
  Host host;
  StartRunRequest start = start_request("r1");
  start.input = Json::object({{"customer", email}});
  REQUIRE(host.kernel->start_run(start).ok());

  ModelCall seen;
  ScriptedModel port;
  port.answer = [&](const ModelCall& call) {
    seen = call;
    ModelOutcome out;
    // The model repeats a value and adds one of its own.
    out.output = Json::object({{"text", "Call " + phone + " or write to boss@example.org"}});
    out.cost_micro_usd = 10;
    return out;
  };
  const std::string prompt =
      "Refund " + email + ", card " + card + ", ssn " + ssn + ", key " + key + ", phone " + phone;
  auto reply = run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", prompt), port);
  REQUIRE(reply.ok());
  REQUIRE(seen.prompt.has_value());
  for (const std::string& secret : {email, phone, card, ssn, key}) {
    CHECK(seen.prompt->find(secret) == std::string::npos);
  }
  CHECK_THAT(*seen.prompt, Catch::Contains("[EMAIL_2]"));  // [EMAIL_1] is the run input's
  CHECK_THAT(*seen.prompt, Catch::Contains("[CARD_1]"));
  const std::string text = reply->output.find("text")->as_string();
  CHECK_THAT(text, Catch::Contains("[PHONE_1]"));  // the same value, the same placeholder
  CHECK_THAT(text, Catch::Contains("[EMAIL_3]"));

  ToolRequest notify;
  notify.step_key = "notify_1";
  notify.tool = "notify";
  notify.arguments = Json::object({{"to", email}, {"body", "refund done"}});
  auto step = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), notify);
  REQUIRE(step.ok());
  REQUIRE(step->call.has_value());
  CHECK(step->call->arguments.find("to")->as_string() == email);  // the real value
  ToolOutcome done;
  done.result = Json::object({{"delivered_to", email}});
  auto result = host.kernel->finish_tool(std::move(step->pending), done);
  REQUIRE(result.ok());
  CHECK(result->result.find("delivered_to")->as_string() == "[EMAIL_2]");

  REQUIRE(host.kernel
              ->pause(TenantId("acme"), RunId("r1"), "confirm", "check",
                      Json::object({{"call", phone}}))
              .ok());
  REQUIRE(host.kernel->resume(TenantId("acme"), RunId("r1"), Json::object({{"ssn", ssn}})).ok());

  // The same script in a new process: identical placeholders, so nothing drifts.
  const size_t events = events_of(*host.store, "r1").size();
  host.reopen();
  ScriptedModel replay;
  auto again = run_model(*host.kernel, "acme", "r1", prompt_request("turn_1", prompt), replay);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  auto tool_again = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), notify);
  REQUIRE(tool_again.ok());
  CHECK(tool_again->replayed.has_value());
  auto resumed = host.kernel->pause(TenantId("acme"), RunId("r1"), "confirm", "check",
                                    Json::object({{"call", phone}}));
  REQUIRE(resumed.ok());
  CHECK(resumed->input.find("ssn")->as_string().rfind("[SSN_", 0) == 0);
  CHECK(replay.calls == 0);
  CHECK(events_of(*host.store, "r1").size() == events);

  host.kernel.reset();
  REQUIRE(host.store->sync().ok());
  host.store.reset();
  const std::string bytes = read_file((host.dir / "data.mdb").string());
  for (const std::string& secret :
       {email, phone, card, ssn, key, std::string("boss@example.org")}) {
    INFO(secret);
    CHECK(bytes.find(secret) == std::string::npos);
  }
  CHECK(bytes.find("[EMAIL_1]") != std::string::npos);
}

TEST_CASE("capabilities given are enforced in permissive mode too, with none given all is open",
          "[kernel][middleware]") {
  for (bool listed : {true, false}) {
    KernelHost host;  // permissive, no middleware given
    REQUIRE(host.kernel->tools()
                .add({"vault", "reads secrets", Json::object({{"type", "object"}}), "1",
                      "vault:read", false})
                .ok());
    StartRunRequest start = start_request("r1");
    if (listed) start.tenant.capabilities = {"notes:write"};
    REQUIRE(host.kernel->start_run(start).ok());
    ToolRequest request;
    request.step_key = "read";
    request.tool = "vault";
    auto step = host.kernel->begin_tool(TenantId("acme"), RunId("r1"), request);
    ModelRequest offer = prompt_request("m", "x");
    offer.tools = {"vault"};
    auto model = host.kernel->begin_model(TenantId("acme"), RunId("r1"), offer);
    REQUIRE(model.ok());
    if (listed) {
      CHECK(step.status().kind() == "capability_denied");
      CHECK(model->call->tools.size() == 0);  // never offered
    } else {
      REQUIRE(step.ok());
      CHECK(step->call.has_value());
      CHECK(model->call->tools.size() == 1);
    }
  }
}

// Placeholders are numbered by what the run recorded: a call adopted after a reload records
// the placeholders it was sent with, and the next step numbers on from them, as a run that
// never reloaded would.
TEST_CASE("placeholders number on after a reload adopts a model call",
          "[kernel][middleware][pii][reload]") {
  Host host;
  REQUIRE(host.kernel->start_run(start_request("r1")).ok());
  const ModelRequest first = prompt_request("a", "write to ana@example.com");
  auto live = host.kernel->begin_model(TenantId("acme"), RunId("r1"), first);
  REQUIRE(live.ok());
  REQUIRE(live->call);
  REQUIRE(host.kernel->reload(TenantId("acme"), RunId("r1")).ok());
  auto adopted = host.kernel->begin_model(TenantId("acme"), RunId("r1"), first);
  REQUIRE(adopted.ok());
  REQUIRE(adopted->adopted);
  ScriptedModel port;
  REQUIRE(host.kernel->finish_model(std::move(live->pending), port(*live->call)).ok());
  auto second =
      run_model(*host.kernel, "acme", "r1", prompt_request("b", "and to bo@example.com"), port);
  REQUIRE(second.ok());

  // The same script on a run that never reloaded.
  REQUIRE(host.kernel->start_run(start_request("r2")).ok());
  REQUIRE(run_model(*host.kernel, "acme", "r2", first, port).ok());
  REQUIRE(run_model(*host.kernel, "acme", "r2", prompt_request("b", "and to bo@example.com"), port)
              .ok());
  auto requests = [&](const std::string& run) {
    std::vector<Json> out;
    for (const Event& e : events_of(*host.store, run)) {
      if (e.type == "model_requested") out.push_back(*e.payload.find("request"));
    }
    return out;
  };
  const std::vector<Json> reloaded = requests("r1");
  const std::vector<Json> plain = requests("r2");
  REQUIRE(reloaded.size() == 2);
  REQUIRE(plain.size() == 2);
  CHECK(reloaded[0] == plain[0]);
  CHECK(reloaded[1] == plain[1]);
  CHECK(reloaded[1].find("prompt")->as_string().find("example.com") == std::string::npos);
}

TEST_CASE("a replayed summary makes its value only when a middleware rewrites values",
          "[kernel][middleware][summary]") {
  // The value source counts how often the kernel asked for the value.
  int made = 0;
  const Kernel::ValueSource value = [&made]() -> Result<Json> {
    ++made;
    return Json::object({{"note", "write to jane.doe@example.com"}});
  };
  auto summarize_twice = [&](auto& host) {
    REQUIRE(host.kernel->start_run(start_request("r1")).ok());
    REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", value, "summary:1").ok());
    CHECK(made == 1);  // live: recorded
    const size_t events = events_of(*host.store, "r1").size();
    host.reopen();
    REQUIRE(host.kernel->summary(kAcme, RunId("r1"), "progress", value, "summary:1").ok());
    CHECK(events_of(*host.store, "r1").size() == events);  // replayed: nothing appended
  };
  SECTION("no middleware reads values: a replay never makes it") {
    KernelHost host;
    summarize_twice(host);
    CHECK(made == 1);
  }
  SECTION("the PII scrubber renumbers from it: a replay makes it") {
    Host host;
    summarize_twice(host);
    CHECK(made == 2);
    // What was recorded is the scrubbed value.
    auto latest = host.store->latest_summary(RunId("r1"), "progress");
    REQUIRE(latest.ok());
    REQUIRE(latest->has_value());
    const Json* recorded = (*latest)->payload.find("value");
    REQUIRE(recorded != nullptr);
    CHECK(recorded->find("note")->as_string() == "write to [EMAIL_1]");
  }
}
