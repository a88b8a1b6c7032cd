// Native tools and model ports through the C API: answered inside the callback or later from
// other threads, recorded once and replayed without the application, each completion taken
// once, refused after a cancel or the host's end, and a call never completed dealt with as a
// crash would be (a model asked again, a side-effecting tool's outcome unknown).
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "capi_support.h"

using namespace artana::capi_test;

namespace {

// What the application's functions were asked, and the completions they hold.
struct Calls {
  std::mutex mu;
  std::vector<artana_completion> tokens;
  std::vector<std::string> requests;
  std::atomic<int> count{0};
  bool answer_now = false;    // complete inside the callback
  std::string answer = "{}";  // the JSON a synchronous answer gives

  void take(const artana_call* call, artana_completion done) {
    ++count;
    std::lock_guard<std::mutex> lock(mu);
    requests.emplace_back(call->json, call->len);
    if (answer_now) {
      CHECK(artana_complete_ok(done, answer.data(), answer.size()) == ARTANA_OK);
    } else {
      tokens.push_back(done);
    }
  }
  std::vector<artana_completion> drain() {
    std::lock_guard<std::mutex> lock(mu);
    std::vector<artana_completion> out;
    out.swap(tokens);
    return out;
  }
};

void on_call(void* user, const artana_call* call, artana_completion done) {
  static_cast<Calls*>(user)->take(call, done);
}

const char* kMoveTo = R"({"name":"move_to","description":"walks the NPC to x",
  "args":{"type":"object","properties":{"x":{"type":"integer"}},"required":["x"]},
  "side_effect":true})";

// A decision from the port, then the tool.
const char* kNpc = R"(
  return function(run, input)
    local decision = run:model{ model = "npc-brain", prompt = "where to, " .. input.name .. "?" }
    local moved = run:tool("move_to", { x = decision.output.x })
    return { at = moved.result.at, said = decision.output.say }
  end)";

// Answers every pending port call with {output = {x = 7, say = ...}} and every tool call with
// {at = x}, each from its own thread (checked here after: Catch's assertions are not
// thread-safe).
void complete_all_from_threads(Calls& ports, Calls& tools) {
  std::vector<std::thread> threads;
  std::atomic<int> refused{0};
  auto complete = [&refused](artana_completion done, std::string answer) {
    return [&refused, done, answer = std::move(answer)] {
      if (artana_complete_ok(done, answer.data(), answer.size()) != ARTANA_OK) ++refused;
    };
  };
  for (artana_completion done : ports.drain())
    threads.emplace_back(
        complete(done, R"({"output":{"x":7,"say":"hi"},"usage":{"prompt_tokens":3}})"));
  for (artana_completion done : tools.drain()) threads.emplace_back(complete(done, R"({"at":7})"));
  for (std::thread& t : threads) t.join();
  CHECK(refused == 0);
}

// Ticks until every run of `runs` ended or nothing is left to do without the application.
void tick_until_waiting(artana_host* host) {
  for (int i = 0; i < 200; ++i) {
    artana_tick_stats stats{};
    REQUIRE(artana_host_tick(host, 5000, &stats) == ARTANA_OK);
    if (stats.ready == 0) return;
  }
}

}  // namespace

TEST_CASE(
    "native ports and tools answered later from other threads finish their runs, and "
    "replay without the application",
    "[capi][native]") {
  TempDir dir;
  Calls ports, tools;
  std::vector<std::string> ids;
  std::vector<std::string> outputs;
  {
    artana_host* host = open_host(dir);
    REQUIRE(artana_model_port_register(host, "npc-*", on_call, &ports) == ARTANA_OK);
    REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
    artana_script* script = load(host, "npc", kNpc);
    std::vector<artana_run*> runs;
    for (int i = 0; i < 8; ++i) {
      artana_run* run = nullptr;
      const std::string options = R"({"run_id":"npc-)" + std::to_string(i) + R"("})";
      REQUIRE(artana_run_start(host, script, R"({"name":"ada"})", options.c_str(), &run) ==
              ARTANA_OK);
      runs.push_back(run);
      ids.push_back(artana_run_id(run));
    }
    tick_until_waiting(host);
    CHECK(ports.count == 8);  // each run asks once, then waits
    CHECK(tools.count == 0);
    for (artana_run* run : runs) CHECK(status_of(run) == "running");
    complete_all_from_threads(ports, tools);
    tick_until_waiting(host);
    CHECK(tools.count == 8);
    complete_all_from_threads(ports, tools);
    run_until_idle(host);
    for (artana_run* run : runs) {
      CHECK(status_of(run) == "completed");
      outputs.push_back(output_of(run));
      CHECK(outputs.back() == R"({"at":7,"said":"hi"})");
    }
    // The port saw the request as a Lua port would.
    CHECK(ports.requests[0].find(R"("prompt":"where to, ada?")") != std::string::npos);
    CHECK(tools.requests[0] == R"({"x":7})");
    artana_host_destroy(host);
  }
  // Executed again in a new host: every step replays, the application is not called.
  artana_host* host = open_host(dir);
  REQUIRE(artana_model_port_register(host, "npc-*", on_call, &ports) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
  artana_script* script = load(host, "npc", kNpc);
  for (size_t i = 0; i < ids.size(); ++i) {
    artana_run* run = nullptr;
    const std::string options = R"({"run_id":")" + ids[i] + R"("})";
    REQUIRE(artana_run_start(host, script, nullptr, options.c_str(), &run) == ARTANA_OK);
    run_until_idle(host);
    CHECK(output_of(run) == outputs[i]);
  }
  CHECK(ports.count == 8);
  CHECK(tools.count == 8);
  artana_host_destroy(host);
}

TEST_CASE(
    "a completion answered inside the callback, twice, unknown, or after a cancel or the "
    "host's end",
    "[capi][native]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Calls ports, tools;
  ports.answer_now = true;
  ports.answer = R"({"output":{"x":3,"say":"now"}})";
  REQUIRE(artana_model_port_register(host, "npc-brain", on_call, &ports) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
  artana_script* script = load(host, "npc", kNpc);

  artana_run* cancelled = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"name":"bo"})", R"({"run_id":"to-cancel"})",
                           &cancelled) == ARTANA_OK);
  tick_until_waiting(host);
  CHECK(ports.count == 1);  // answered in the callback: the tool is reached in the same run
  std::vector<artana_completion> pending = tools.drain();
  REQUIRE(pending.size() == 1);
  REQUIRE(artana_run_cancel(cancelled, "the player left") == ARTANA_OK);
  CHECK(status_of(cancelled) == "cancelled");
  const std::string answer = R"({"at":3})";
  CHECK(artana_complete_ok(pending[0], answer.data(), answer.size()) == ARTANA_E_CANCELLED);
  CHECK(last_error_names("cancelled"));
  // Cancelled and completed: it is gone now.
  CHECK(artana_complete_ok(pending[0], answer.data(), answer.size()) == ARTANA_E_STATE);

  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"name":"cy"})", nullptr, &run) == ARTANA_OK);
  tick_until_waiting(host);
  pending = tools.drain();
  REQUIRE(pending.size() == 1);
  CHECK(artana_complete_ok(pending[0], "{not json", 9) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("json"));
  CHECK(artana_complete_error(pending[0], static_cast<artana_failure>(9), "x") ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_complete_ok(pending[0], answer.data(), answer.size()) == ARTANA_OK);
  CHECK(artana_complete_ok(pending[0], answer.data(), answer.size()) == ARTANA_E_STATE);
  CHECK(last_error_names("completed already"));
  CHECK(artana_complete_ok(pending[0] + 1000000, answer.data(), answer.size()) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_complete_ok(pending[0], nullptr, 0) == ARTANA_E_INVALID_ARGUMENT);
  run_until_idle(host);
  CHECK(output_of(run) == R"({"at":3,"said":"now"})");

  // A third run waits on its tool when the host goes: its completion is refused after.
  artana_run* left = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"name":"di"})", R"({"run_id":"left"})", &left) ==
          ARTANA_OK);
  tick_until_waiting(host);
  pending = tools.drain();
  REQUIRE(pending.size() == 1);
  artana_host_destroy(host);
  CHECK(artana_complete_ok(pending[0], answer.data(), answer.size()) == ARTANA_E_CANCELLED);

  // Never completed, the side-effecting tool's outcome is unknown when the run executes
  // again: it needs an operator's reconciliation, and the tool is not called again.
  host = open_host(dir);
  REQUIRE(artana_model_port_register(host, "npc-brain", on_call, &ports) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
  script = load(host, "npc", kNpc);
  const int tool_calls = tools.count;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"left"})", &left) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(left) == "needs_attention");
  CHECK(tools.count == tool_calls);
  char* error = nullptr;
  REQUIRE(artana_run_error(left, &error, nullptr) == ARTANA_OK);
  CHECK(std::string(error).find("reconciliation_required") != std::string::npos);
  artana_free(error);
  artana_host_destroy(host);
}

TEST_CASE("a model port never answered is asked again when its run executes again",
          "[capi][native]") {
  TempDir dir;
  Calls ports, tools;
  tools.answer_now = true;
  tools.answer = R"({"at":5})";
  {
    artana_host* host = open_host(dir);
    REQUIRE(artana_model_port_register(host, "npc-brain", on_call, &ports) == ARTANA_OK);
    REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
    artana_script* script = load(host, "npc", kNpc);
    artana_run* run = nullptr;
    REQUIRE(artana_run_start(host, script, R"({"name":"ed"})", R"({"run_id":"again"})", &run) ==
            ARTANA_OK);
    tick_until_waiting(host);
    CHECK(ports.drain().size() == 1);
    artana_host_destroy(host);  // the call is never answered
  }
  artana_host* host = open_host(dir);
  REQUIRE(artana_model_port_register(host, "npc-brain", on_call, &ports) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, kMoveTo, on_call, &tools) == ARTANA_OK);
  artana_script* script = load(host, "npc", kNpc);
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"again"})", &run) == ARTANA_OK);
  tick_until_waiting(host);
  std::vector<artana_completion> asked = ports.drain();
  REQUIRE(asked.size() == 1);
  CHECK(ports.count == 2);
  const std::string answer = R"({"output":{"x":5,"say":"again"}})";
  REQUIRE(artana_complete_ok(asked[0], answer.data(), answer.size()) == ARTANA_OK);
  run_until_idle(host);
  CHECK(output_of(run) == R"({"at":5,"said":"again"})");
  artana_host_destroy(host);
}

TEST_CASE("failures a native function reports reach the script with their kind", "[capi][native]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Calls ports, tools;
  REQUIRE(artana_model_port_register(host, "m", on_call, &ports) == ARTANA_OK);
  REQUIRE(artana_tool_register(host, R"({"name":"probe"})", on_call, &tools) == ARTANA_OK);
  artana_script* script = load(host, "fails", R"(
    return function(run)
      local ok_m, err_m = pcall(function() return run:model{ model = "m", prompt = "p" } end)
      local ok_t, err_t = pcall(function() return run:tool("probe", {}) end)
      return { model = err_m.kind, model_message = err_m.message, tool = err_t.kind }
    end)");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, nullptr, &run) == ARTANA_OK);
  tick_until_waiting(host);
  std::vector<artana_completion> asked = ports.drain();
  REQUIRE(asked.size() == 1);
  REQUIRE(artana_complete_error(asked[0], ARTANA_FAIL_TRANSIENT, "rate limited") == ARTANA_OK);
  tick_until_waiting(host);
  asked = tools.drain();
  REQUIRE(asked.size() == 1);
  REQUIRE(artana_complete_error(asked[0], ARTANA_FAIL_PERMANENT, nullptr) == ARTANA_OK);
  run_until_idle(host);
  const std::string output = output_of(run);
  CHECK(output.find(R"("model":"model_failed")") != std::string::npos);
  CHECK(output.find("rate limited") != std::string::npos);
  CHECK(output.find(R"("tool":"tool_failed")") != std::string::npos);
  artana_host_destroy(host);
}

TEST_CASE("registering names a bad spec, a clash and a callback that ticks its own host",
          "[capi][native]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Calls calls;
  CHECK(artana_tool_register(nullptr, kMoveTo, on_call, &calls) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("artana_tool_register: host is NULL"));
  CHECK(artana_tool_register(host, nullptr, on_call, &calls) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_tool_register(host, kMoveTo, nullptr, &calls) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("fn is NULL"));
  CHECK(artana_tool_register(host, R"({"name":"t","colour":"red"})", on_call, &calls) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("unknown key 'colour'"));
  CHECK(artana_tool_register(host, R"({"description":"no name"})", on_call, &calls) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("spec_json.name is missing"));
  CHECK(artana_tool_register(host, R"({"name":"t","args":{"type":"nonsense"}})", on_call, &calls) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_tool_register(host, R"({"name":"artana.http"})", on_call, &calls) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("built-in"));
  REQUIRE(artana_tool_register(host, R"({"name":"t"})", on_call, &calls) == ARTANA_OK);
  CHECK(artana_tool_register(host, R"({"name":"t"})", on_call, &calls) ==
        ARTANA_E_INVALID_ARGUMENT);
  CHECK(artana_model_port_register(host, "a*b", on_call, &calls) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("prefix ending in '*'"));
  CHECK(artana_model_port_register(host, "m", nullptr, &calls) == ARTANA_E_INVALID_ARGUMENT);

  // A script with a tool of the native tool's name: its run fails to start, naming both.
  artana_script* clash = load(host, "clash", R"(
    local artana = require "artana"
    artana.tool{ name = "t", fn = function() return 1 end }
    return function(run) return run:tool("t", {}) end)");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, clash, nullptr, nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(status_of(run) == "failed");
  char* error = nullptr;
  REQUIRE(artana_run_error(run, &error, nullptr) == ARTANA_OK);
  INFO(error);
  CHECK(std::string(error).find("native tool") != std::string::npos);
  artana_free(error);

  // A callback may call the API but not tick or destroy its own host.
  struct Reentrant {
    artana_host* host;
    artana_status tick = ARTANA_OK;
  } reentrant{host};
  REQUIRE(artana_model_port_register(
              host, "reentrant",
              [](void* user, const artana_call*, artana_completion done) {
                auto* r = static_cast<Reentrant*>(user);
                r->tick = artana_host_tick(r->host, 100, nullptr);
                artana_host_destroy(r->host);  // refused: the host lives on
                const std::string answer = R"({"output":"fine"})";
                artana_complete_ok(done, answer.data(), answer.size());
              },
              &reentrant) == ARTANA_OK);
  artana_script* asks = load(host, "asks", R"(
    return function(run) return run:model{ model = "reentrant", prompt = "?" }.output end)");
  REQUIRE(artana_run_start(host, asks, nullptr, nullptr, &run) == ARTANA_OK);
  run_until_idle(host);
  CHECK(reentrant.tick == ARTANA_E_STATE);
  CHECK(output_of(run) == R"("fine")");
  artana_host_destroy(host);
}
