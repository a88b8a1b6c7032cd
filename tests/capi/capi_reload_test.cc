// Hot reload through the C API with native calls in flight: a reload, an unload and a load
// again lose no work (each call made once, its completion recorded when it comes and adopted),
// the outputs are those of runs never interrupted, and each run's reload is told once, per
// replay policy; the restarts come on later ticks, within their budgets.
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "artana/kernel/json_parse.h"
#include "capi_support.h"

using namespace artana::capi_test;

namespace {

// The port: each request queued; its answer is the prompt with a '!' (from the request).
struct Brain {
  std::mutex mu;
  std::vector<std::pair<artana_completion, std::string>> pending;  // token, prompt
  int calls = 0;
};

void brain_called(void* user, const artana_call* call, artana_completion done) {
  auto* brain = static_cast<Brain*>(user);
  auto request = artana::kernel::parse_json(std::string_view(call->json, call->len), "request");
  REQUIRE(request.ok());
  std::lock_guard<std::mutex> lock(brain->mu);
  ++brain->calls;
  brain->pending.emplace_back(done, request->find("prompt")->as_string());
}

// Completes the first `n` pending calls (all when n < 0); returns how many. With `refused`,
// a completion may be refused as cancelled (its run stopped here), counted there.
size_t answer(Brain& brain, long n = -1, int* refused = nullptr) {
  std::vector<std::pair<artana_completion, std::string>> now;
  {
    std::lock_guard<std::mutex> lock(brain.mu);
    const size_t count = n < 0 ? brain.pending.size() : std::min<size_t>(n, brain.pending.size());
    now.assign(brain.pending.begin(), brain.pending.begin() + count);
    brain.pending.erase(brain.pending.begin(), brain.pending.begin() + count);
  }
  for (const auto& [done, prompt] : now) {
    const std::string json = R"({"output":")" + prompt + R"(!"})";
    const artana_status status = artana_complete_ok(done, json.data(), json.size());
    if (refused != nullptr && status == ARTANA_E_CANCELLED) {
      ++*refused;
      continue;
    }
    CHECK(status == ARTANA_OK);
  }
  return now.size();
}

struct Reports {
  std::map<std::string, int> outcome;  // run id -> outcome
  std::map<std::string, std::string> detail;
  int told = 0;
};

void reload_told(void* user, const char* run_id, int outcome, const char* detail_json) {
  auto* reports = static_cast<Reports*>(user);
  ++reports->told;
  CHECK(reports->outcome.count(run_id) == 0);  // once per run
  reports->outcome[run_id] = outcome;
  reports->detail[run_id] = detail_json;
}

std::string two_steps(const char* first) {
  return std::string(R"(
    return function(run, input)
      local a = run:model{ model = "brain", prompt = ")") +
         first + R"( " .. input.i }
      local b = run:model{ model = "brain", prompt = "second " .. a.output }
      return { a = a.output, b = b.output }
    end)";
}

// Starts `n` runs of `script` with inputs {i = 0 .. n-1}.
std::vector<artana_run*> start_runs(artana_host* host, artana_script* script, int n) {
  std::vector<artana_run*> runs;
  for (int i = 0; i < n; ++i) {
    artana_run* run = nullptr;
    const std::string input = R"({"i":)" + std::to_string(i) + "}";
    REQUIRE(artana_run_start(host, script, input.c_str(), nullptr, &run) == ARTANA_OK);
    runs.push_back(run);
  }
  return runs;
}

// Ticks until nothing is left to do without the application (every run waits for its port),
// however slow the machine: a count of ticks would assume a pace.
void tick_some(artana_host* host) {
  artana_tick_stats stats{};
  for (int i = 0; i < 100'000; ++i) {
    REQUIRE(artana_host_tick(host, 20000, &stats) == ARTANA_OK);
    if (stats.ready == 0) return;
  }
  FAIL("the host never ran out of work");
}

// Each run of two_steps("first") with input {i} ended as if never interrupted.
void check_uninterrupted(const std::vector<artana_run*>& runs) {
  for (size_t i = 0; i < runs.size(); ++i) {
    const std::string a = "first " + std::to_string(i) + "!";
    CHECK(output_of(runs[i]) == R"({"a":")" + a + R"(","b":"second )" + a + R"(!"})");
  }
}

// A host whose port "brain" queues its calls, with the two-step script loaded as "two".
struct TwoStepHost {
  TempDir dir;
  artana_host* host = open_host(dir);
  Brain brain;
  std::string v1 = two_steps("first");
  artana_script* script = nullptr;
  TwoStepHost() {
    REQUIRE(artana_model_port_register(host, "brain", brain_called, &brain) == ARTANA_OK);
    script = load(host, "two", v1);
  }
};

}  // namespace

TEST_CASE(
    "100 runs with native calls in flight: reloaded, unloaded, half completed, loaded "
    "again: all finish as if uninterrupted, one call per step, each reload told once",
    "[capi][reload]") {
  TwoStepHost f;
  artana_host* host = f.host;
  Brain& brain = f.brain;
  const std::string& v1 = f.v1;
  artana_script* script = f.script;
  std::vector<artana_run*> runs = start_runs(host, script, 100);
  tick_some(host);
  REQUIRE(brain.pending.size() == 100);

  // A reload with the same code while every run waits for its first call.
  CHECK(artana_script_reload(script, "return (", 8, reload_told, nullptr) == ARTANA_E_SCRIPT);
  Reports reports;
  REQUIRE(artana_script_reload(script, v1.data(), v1.size(), reload_told, &reports) == ARTANA_OK);
  tick_some(host);
  CHECK(reports.told == 100);
  for (const auto& [run, outcome] : reports.outcome) CHECK(outcome == ARTANA_RELOAD_CONTINUED);
  // The calls made before the reload are adopted: answered, the runs go on to their second.
  CHECK(answer(brain) == 100);
  tick_some(host);
  REQUIRE(brain.pending.size() == 100);
  CHECK(brain.calls == 200);

  // Unloaded while every run waits for its second call; half are answered meanwhile.
  REQUIRE(artana_script_unload(script) == ARTANA_OK);
  CHECK(answer(brain, 50) == 50);
  tick_some(host);
  for (artana_run* run : runs) CHECK(status_of(run) == "running");
  script = load(host, "two", v1);  // loaded again: the runs go on
  tick_some(host);
  CHECK(answer(brain) == 50);
  run_until_idle(host);
  CHECK(brain.calls == 200);  // one call per step, none made twice
  check_uninterrupted(runs);
  artana_host_destroy(host);
}

TEST_CASE("a reload whose code changed a recorded step reports per replay policy",
          "[capi][reload]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Brain brain;
  REQUIRE(artana_model_port_register(host, "brain", brain_called, &brain) == ARTANA_OK);
  artana_script* script = load(host, "two", two_steps("first"));
  const char* policies[] = {"strict", "allow_prompt_drift", "fork_on_drift"};
  std::map<std::string, std::string> policy_of;
  std::vector<artana_run*> runs;
  for (int i = 0; i < 30; ++i) {
    artana_run* run = nullptr;
    const std::string input = R"({"i":)" + std::to_string(i) + "}";
    const std::string options = std::string(R"({"replay":")") + policies[i % 3] + R"("})";
    REQUIRE(artana_run_start(host, script, input.c_str(), options.c_str(), &run) == ARTANA_OK);
    policy_of[artana_run_id(run)] = policies[i % 3];
    runs.push_back(run);
  }
  tick_some(host);
  CHECK(answer(brain) == 30);  // first steps recorded; every run waits for its second
  tick_some(host);
  REQUIRE(brain.pending.size() == 30);

  // The first step's prompt changes.
  const std::string v2 = two_steps("FIRST");
  Reports reports;
  REQUIRE(artana_script_reload(script, v2.data(), v2.size(), reload_told, &reports) == ARTANA_OK);
  tick_some(host);
  REQUIRE(reports.told == 30);
  for (const auto& [run, outcome] : reports.outcome) {
    INFO(run << " " << policy_of[run] << " " << reports.detail[run]);
    if (policy_of[run] == "strict") {
      CHECK(outcome == ARTANA_RELOAD_HALTED_DRIFT);
      CHECK(reports.detail[run].find("replay_drift") != std::string::npos);
    } else if (policy_of[run] == "allow_prompt_drift") {
      CHECK(outcome == ARTANA_RELOAD_DRIFT_ALLOWED);
      CHECK(reports.detail[run].find(R"("step_key":"model:1")") != std::string::npos);
    } else {
      CHECK(outcome == ARTANA_RELOAD_FORKED);
      CHECK(reports.detail[run].find("fork_run_id") != std::string::npos);
    }
  }
  // The strict runs halted and the forks asked anew: their old calls are refused now.
  int refused = 0;
  answer(brain, -1, &refused);
  CHECK(refused == 20);
  tick_some(host);
  answer(brain);
  tick_some(host);
  answer(brain);
  run_until_idle(host);
  for (int i = 0; i < 30; ++i) {
    const std::string status = status_of(runs[i]);
    INFO(policies[i % 3] << " " << i);
    if (i % 3 == 0) CHECK(status == "needs_attention");
    if (i % 3 == 2) {
      // The run went on in its fork under the new code: a first step asked anew.
      const std::string a = "FIRST " + std::to_string(i) + "!";
      CHECK(output_of(runs[i]) == R"({"a":")" + a + R"(","b":"second )" + a + R"(!"})");
    }
    if (i % 3 == 1) {
      // The recorded first answer stands; the second call was adopted.
      CHECK(status == "completed");
      const std::string a = "first " + std::to_string(i) + "!";
      CHECK(output_of(runs[i]) == R"({"a":")" + a + R"(","b":"second )" + a + R"(!"})");
    }
  }
  artana_host_destroy(host);
}

TEST_CASE(
    "a reload restarts its runs on later ticks within their budgets, once however often it "
    "is asked, and tell a run that ended before its turn that it ended",
    "[capi][reload]") {
  TwoStepHost f;
  artana_host* host = f.host;
  Brain& brain = f.brain;
  const std::string& v1 = f.v1;
  artana_script* script = f.script;
  constexpr int kRuns = 200;
  std::vector<artana_run*> runs = start_runs(host, script, kRuns);
  tick_some(host);
  REQUIRE(brain.pending.size() == kRuns);

  // Asked twice before a tick: the call returns at once, nothing restarted or told yet; the
  // second listener is the one told.
  Reports first, second;
  REQUIRE(artana_script_reload(script, v1.data(), v1.size(), reload_told, &first) == ARTANA_OK);
  REQUIRE(artana_script_reload(script, v1.data(), v1.size(), reload_told, &second) == ARTANA_OK);
  CHECK(second.told == 0);
  // Ended before its turn: not restarted, told as ended (every run counted is told).
  REQUIRE(artana_run_cancel(runs[0], "the player left") == ARTANA_OK);
  const std::string cancelled_id = artana_run_id(runs[0]);

  // A 1 ms tick restarts what fits, not 199 runs.
  artana_tick_stats stats{};
  REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
  CHECK(second.told < kRuns - 1);
  CHECK(stats.ready > 0);
  int ticks = 1;
  while (second.told < kRuns && ticks < 100'000) {
    REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
    ++ticks;
  }
  CHECK(ticks > 2);
  CHECK(first.told == 0);
  CHECK(second.told == kRuns);
  REQUIRE(second.outcome.count(cancelled_id) == 1);
  CHECK(second.outcome[cancelled_id] == ARTANA_RELOAD_ENDED);
  CHECK(second.detail[cancelled_id] == R"({"status":"cancelled"})");
  for (const auto& [run, outcome] : second.outcome)
    if (run != cancelled_id) CHECK(outcome == ARTANA_RELOAD_CONTINUED);
  tick_some(host);
  CHECK(second.told == kRuns);  // once each

  // The calls in flight were adopted: answered once, every run but the cancelled one ends.
  int refused = 0;
  answer(brain, -1, &refused);
  CHECK(refused == 1);  // the cancelled run's call
  tick_some(host);      // each goes on to its second call
  CHECK(answer(brain) == kRuns - 1);
  run_until_idle(host);
  CHECK(brain.calls == kRuns + (kRuns - 1));
  CHECK(status_of(runs[0]) == "cancelled");
  for (int i = 1; i < kRuns; ++i) CHECK(status_of(runs[i]) == "completed");
  artana_host_destroy(host);
}

TEST_CASE(
    "a reload's runs whose script is unloaded before they replayed are told they were "
    "suspended, once each, and loaded again they finish with no call made twice",
    "[capi][reload]") {
  TwoStepHost f;
  artana_host* host = f.host;
  Brain& brain = f.brain;
  constexpr int kRuns = 120;
  std::vector<artana_run*> runs = start_runs(host, f.script, kRuns);
  tick_some(host);
  REQUIRE(brain.pending.size() == kRuns);

  // Reloaded; one small tick restarts a few; then the script is unloaded.
  Reports reports;
  REQUIRE(artana_script_reload(f.script, f.v1.data(), f.v1.size(), reload_told, &reports) ==
          ARTANA_OK);
  artana_tick_stats stats{};
  REQUIRE(artana_host_tick(host, 500, &stats) == ARTANA_OK);
  const int told_before = reports.told;
  CHECK(told_before < kRuns);
  REQUIRE(artana_script_unload(f.script) == ARTANA_OK);
  tick_some(host);
  // Every run the reload counted is told, once (reload_told checks): an application waiting
  // for them all is not left waiting.
  CHECK(reports.told == kRuns);
  int suspended = 0;
  for (const auto& [run, outcome] : reports.outcome) {
    INFO(run);
    CHECK((outcome == ARTANA_RELOAD_CONTINUED || outcome == ARTANA_RELOAD_SUSPENDED));
    if (outcome == ARTANA_RELOAD_SUSPENDED) {
      ++suspended;
      CHECK(reports.detail[run] == "{}");
    }
  }
  CHECK(suspended >= kRuns - told_before - 1);
  CHECK(suspended > 0);
  for (artana_run* run : runs) CHECK(status_of(run) == "running");

  // Loaded again: the suspended runs execute, adopting the calls still in flight.
  f.script = load(host, "two", f.v1);
  tick_some(host);
  CHECK(reports.told == kRuns);  // nothing told twice
  CHECK(answer(brain) == kRuns);
  tick_some(host);
  CHECK(answer(brain) == kRuns);
  run_until_idle(host);
  CHECK(brain.calls == 2 * kRuns);
  check_uninterrupted(runs);
  artana_host_destroy(host);
}

// Two steps with Lua work between them that outlasts a 1 ms tick; `version` in the output.
std::string slow_two_steps(int version) {
  return R"(
    return function(run, input)
      local a = run:model{ model = "brain", prompt = "first " .. input.i }
      local n = 0
      for k = 1, 400000 do n = n + k % 7 end
      local b = run:model{ model = "brain", prompt = "second " .. a.output }
      return { a = a.output, b = b.output, v = )" +
         std::to_string(version) + R"( }
    end)";
}

TEST_CASE(
    "a run reloaded again after its restart but before its outcome was told restarts once "
    "more, under the latest code, and is told once, to the latest listener",
    "[capi][reload]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Brain brain;
  REQUIRE(artana_model_port_register(host, "brain", brain_called, &brain) == ARTANA_OK);
  const std::string v1 = slow_two_steps(1), v2 = slow_two_steps(2);
  artana_script* script = load(host, "slow", v1);
  constexpr int kRuns = 10;
  std::vector<artana_run*> runs = start_runs(host, script, kRuns);
  tick_some(host);
  REQUIRE(answer(brain) == kRuns);
  tick_some(host);
  REQUIRE(brain.pending.size() == kRuns);  // each waits for its second call, the loop behind it

  Reports first, second;
  REQUIRE(artana_script_reload(script, v1.data(), v1.size(), reload_told, &first) == ARTANA_OK);
  // One 1 ms tick: a restart begins, its replay is cut short in the loop — restarted, not
  // caught up, not told.
  artana_tick_stats stats{};
  REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
  CHECK(first.told == 0);
  REQUIRE(artana_script_reload(script, v2.data(), v2.size(), reload_told, &second) == ARTANA_OK);
  for (int ticks = 0; second.told < kRuns && ticks < 100'000; ++ticks)
    REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
  CHECK(second.told == kRuns);
  CHECK(first.told == 0);
  for (const auto& [run, outcome] : second.outcome) CHECK(outcome == ARTANA_RELOAD_CONTINUED);

  // Every run, the one restarted before the second reload too, ends under v2; each call made
  // once (the second ones adopted through both restarts).
  CHECK(answer(brain) == kRuns);
  run_until_idle(host);
  CHECK(brain.calls == 2 * kRuns);
  for (int i = 0; i < kRuns; ++i) {
    INFO("run " << i);
    CHECK(status_of(runs[i]) == "completed");
    const std::string a = "first " + std::to_string(i) + "!";
    CHECK(output_of(runs[i]) == R"({"a":")" + a + R"(","b":"second )" + a + R"(!","v":2})");
  }
  artana_host_destroy(host);
}
