// The middleware chain's three hooks (middleware.h): which run for live and replayed steps,
// in what order, and what each sees — for model and tool steps alike.
#include <catch2/catch.hpp>

#include "artana/kernel/canonical_json.h"
#include "support/kernel_fixture.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::testing;

namespace {

// A custom middleware that notes every hook with what it saw, tags what tools record, and
// withdraws the tools named "hidden" from models.
class Tagger : public Middleware {
 public:
  explicit Tagger(std::vector<std::string>* log) : log_(log) {}
  Kind kind() const override { return Kind::kCustom; }
  std::string_view name() const override { return "tagger"; }
  Status rewrite_request(const StepContext& ctx, StepRequest& request) override {
    note("rewrite_request", ctx, request.values);
    if (ctx.kind == StepKind::kTool) request.values[0].edit().set("tagged", true);
    if (request.offered != nullptr) {
      std::erase_if(*request.offered,
                    [](const RegisteredTool* tool) { return tool->spec.name == "hidden"; });
    }
    return Status();
  }
  Status judge(const StepContext& ctx, const StepRequest& request) override {
    note("judge", ctx, request.values);
    return Status();
  }
  void rewrite_result(const StepContext& ctx, StepResult& result) override {
    note("rewrite_result", ctx, result.values);
    if (ctx.kind == StepKind::kTool) result.values[0].edit().set("checked_by", "tagger");
  }

 private:
  void note(const char* hook, const StepContext& ctx, std::span<StepValue> values) {
    std::string line = std::string(hook) + " " +
                       (ctx.kind ? std::string(step_kind_name(*ctx.kind)) : "input") + " " +
                       ctx.step_key;
    for (const StepValue& value : values) line += " " + canonical_json(value.get()).value();
    log_->push_back(line);
  }
  std::vector<std::string>* log_;
};

}  // namespace

TEST_CASE("every hook runs in the fixed order for models and tools, a replay only rewrites",
          "[kernel][middleware]") {
  std::vector<std::string> log;
  TempDir dir;
  auto store = open_store(dir.str());
  auto open_kernel = [&]() {
    KernelOptions options;
    options.mode = PolicyMode::kEnforced;
    options.middleware = {std::make_shared<Tagger>(&log), make_capability_guard(),
                          make_quota_guard(), make_pii_scrubber()};
    auto created = Kernel::open(*store, options);
    REQUIRE(created.ok());
    auto kernel = std::move(created).value();
    for (const char* name : {"notify", "hidden"}) {
      REQUIRE(kernel->tools()
                  .add({name, "sends a message", Json::object({{"type", "object"}}), "1", "", true})
                  .ok());
    }
    return kernel;
  };
  auto kernel = open_kernel();
  REQUIRE(kernel->start_run(start_request("r1")).ok());
  CHECK(log == std::vector<std::string>{R"(rewrite_request input  {"goal":"test"})"});
  log.clear();

  ModelRequest ask = prompt_request("m1", "mail a@example.com");
  ask.tools = {"notify", "hidden"};
  ModelCall seen;
  ScriptedModel port;
  port.answer = [&](const ModelCall& call) {
    seen = call;
    ModelOutcome out;
    out.output = Json::object({{"text", "done for b@example.com"}});
    out.cost_micro_usd = 10;
    return out;
  };
  auto reply = run_model(*kernel, "acme", "r1", ask, port);
  REQUIRE(reply.ok());
  REQUIRE(seen.tools.size() == 1);  // the custom rewrite withdrew "hidden"
  CHECK(seen.tools.as_array()[0].find("name")->as_string() == "notify");
  CHECK(*seen.prompt == "mail [EMAIL_1]");

  ToolRequest notify;
  notify.step_key = "t1";
  notify.tool = "notify";
  notify.arguments = Json::object({{"to", "a@example.com"}});
  auto step = kernel->begin_tool(TenantId("acme"), RunId("r1"), notify);
  REQUIRE(step.ok());
  REQUIRE(step->call.has_value());
  CHECK(step->call->arguments == notify.arguments);  // the tool gets the real arguments
  ToolOutcome done;
  done.result = Json::object({{"sent", "a@example.com"}});
  auto result = kernel->finish_tool(std::move(step->pending), done);
  REQUIRE(result.ok());
  // The PII scrubber runs first: no later middleware sees a value it replaces.
  CHECK(log ==
        std::vector<std::string>{R"(rewrite_request model m1 "mail [EMAIL_1]")",
                                 R"(judge model m1 "mail [EMAIL_1]")",
                                 R"(rewrite_result model m1 {"text":"done for [EMAIL_2]"} [])",
                                 R"(rewrite_request tool t1 {"to":"[EMAIL_1]"})",
                                 R"(judge tool t1 {"tagged":true,"to":"[EMAIL_1]"})",
                                 R"(rewrite_result tool t1 {"sent":"[EMAIL_1]"})"});
  CHECK(result->result == Json::object({{"checked_by", "tagger"}, {"sent", "[EMAIL_1]"}}));
  auto events = events_of(*store, "r1");
  const Event* requested = nullptr;
  for (const Event& e : events) {
    if (e.type == "tool_requested") requested = &e;
  }
  REQUIRE(requested != nullptr);
  CHECK(*requested->payload.find("arguments") ==
        Json::object({{"tagged", true}, {"to", "[EMAIL_1]"}}));

  // Another process replays: the requests are rewritten again (their hashes hold the
  // rewrites), nothing is judged, no result rewritten, nothing appended.
  log.clear();
  kernel = open_kernel();
  ScriptedModel replay;
  auto again = run_model(*kernel, "acme", "r1", ask, replay);
  REQUIRE(again.ok());
  CHECK(again->replayed);
  auto tool_again = kernel->begin_tool(TenantId("acme"), RunId("r1"), notify);
  REQUIRE(tool_again.ok());
  REQUIRE(tool_again->replayed.has_value());
  CHECK(tool_again->replayed->result ==
        Json::object({{"checked_by", "tagger"}, {"sent", "[EMAIL_1]"}}));
  CHECK(log == std::vector<std::string>{R"(rewrite_request model m1 "mail [EMAIL_1]")",
                                        R"(rewrite_request tool t1 {"to":"[EMAIL_1]"})"});
  CHECK(replay.calls == 0);
  CHECK(events_of(*store, "r1").size() == events.size());
}
