// The event callback: status changes, steps, drift, forks and printed lines, as JSON, on the
// ticking thread at the end of a tick, filtered by the mask; a callback cannot tick its host.
#include <string>
#include <vector>

#include "capi_support.h"

using namespace artana::capi_test;

namespace {

struct Heard {
  artana_host* host = nullptr;
  std::vector<std::string> events;
  artana_status tick_inside = ARTANA_OK;
};

void heard(void* user, const artana_event* event) {
  auto* h = static_cast<Heard*>(user);
  size_t len = 0;
  const char* json = artana_event_json(event, &len);
  CHECK(std::string(json).size() == len);
  h->events.emplace_back(std::to_string(artana_event_kind(event)) + " " + json);
  h->tick_inside = artana_host_tick(h->host, 100, nullptr);
}

void answer_now(void*, const artana_call*, artana_completion done) {
  const std::string answer = R"({"output":"ok"})";
  artana_complete_ok(done, answer.data(), answer.size());
}

bool has(const std::vector<std::string>& events, const std::string& text) {
  for (const std::string& e : events)
    if (e.find(text) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_CASE("the event callback hears status changes, steps, prints, drift and forks, as asked",
          "[capi][events]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  Heard h{host};
  CHECK(artana_host_set_event_callback(host, 64, heard, &h) == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("mask 64"));
  REQUIRE(artana_host_set_event_callback(host, ARTANA_EVENT_ALL, heard, &h) == ARTANA_OK);
  REQUIRE(artana_model_port_register(host, "m", answer_now, nullptr) == ARTANA_OK);
  const char* v1 = R"(
    return function(run, input)
      print("thinking about " .. input.topic)
      local a = run:model{ model = "m", prompt = "first" }
      local paused = run:pause("go on?")
      return a.output
    end)";
  artana_script* script = load(host, "talk", v1);
  artana_run* strict = nullptr;
  artana_run* allow = nullptr;
  artana_run* fork = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"topic":"tea"})", R"({"run_id":"ev-1"})", &strict) ==
          ARTANA_OK);
  REQUIRE(artana_run_start(host, script, R"({"topic":"tea"})",
                           R"({"run_id":"ev-2","replay":"allow_prompt_drift"})",
                           &allow) == ARTANA_OK);
  REQUIRE(artana_run_start(host, script, R"({"topic":"tea"})",
                           R"({"run_id":"ev-3","replay":"fork_on_drift"})", &fork) == ARTANA_OK);
  run_until_idle(host);
  CHECK(h.tick_inside == ARTANA_E_STATE);
  INFO(h.events.size());
  CHECK(has(h.events, R"(1 {"kind":"status","run_id":"ev-1","seq":1,"status":"running")"));
  CHECK(has(h.events, R"(2 {"kind":"step","run_id":"ev-1")"));
  CHECK(has(h.events, R"("step_key":"model:1","type":"model_completed")"));
  CHECK(has(h.events, R"(16 {"kind":"log","line":"thinking about tea","run_id":"ev-1"})"));
  CHECK(has(h.events, R"("run_id":"ev-1","seq":)"));
  CHECK(has(h.events, R"("status":"paused")"));

  // The prompt changes: the allowing run hears a drift, the forking run a fork.
  h.events.clear();
  std::string v2 = v1;
  v2.replace(v2.find("\"first\""), 7, "\"FIRST\"");
  REQUIRE(artana_script_reload(script, v2.data(), v2.size(), nullptr, nullptr) == ARTANA_OK);
  run_until_idle(host);
  CHECK(has(h.events, R"(4 {"drift_fields":["prompt"],"kind":"drift","run_id":"ev-2")"));
  CHECK(has(h.events, R"(8 {"fork_run_id":"ev-3::fork::)"));
  CHECK(has(h.events, R"("status":"needs_attention")"));

  // Only what the mask asks for; none once stopped.
  h.events.clear();
  REQUIRE(artana_host_set_event_callback(host, ARTANA_EVENT_STATUS, heard, &h) == ARTANA_OK);
  artana_run* more = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"topic":"cake"})", nullptr, &more) == ARTANA_OK);
  run_until_idle(host);
  REQUIRE(!h.events.empty());
  for (const std::string& e : h.events) CHECK(e.rfind("1 ", 0) == 0);
  h.events.clear();
  REQUIRE(artana_host_set_event_callback(host, 0, nullptr, nullptr) == ARTANA_OK);
  REQUIRE(artana_run_start(host, script, R"({"topic":"pie"})", nullptr, &more) == ARTANA_OK);
  run_until_idle(host);
  CHECK(h.events.empty());
  CHECK(artana_event_kind(nullptr) == 0);
  artana_host_destroy(host);
}

namespace {

int64_t g_game_us = 1'000'000'000'000;
int64_t game_clock(void*) { return g_game_us; }

// Where the first event holding every one of `parts` is, or -1.
int find(const std::vector<std::string>& events, std::initializer_list<std::string> parts,
         int from = 0) {
  for (int i = from; i < static_cast<int>(events.size()); ++i) {
    bool all = true;
    for (const std::string& part : parts) all = all && events[i].find(part) != std::string::npos;
    if (all) return i;
  }
  return -1;
}

}  // namespace

// The status is the kernel's: told when an append changed it, so a sleep that ends at once
// is heard as steps only, and the wake of a long one as the run running again.
TEST_CASE("the event callback hears a run's status when it changes and every step kind's events",
          "[capi][events]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  REQUIRE(artana_host_set_clock(host, game_clock, nullptr) == ARTANA_OK);
  Heard h{host};
  REQUIRE(artana_host_set_event_callback(host, ARTANA_EVENT_ALL, heard, &h) == ARTANA_OK);
  artana_script* script = load(host, "naps", R"(
    return function(run)
      run:sleep(0)
      run:summary("note", { n = 1 })
      run:sleep(5)
      return "done"
    end)");
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"nap-1"})", &run) == ARTANA_OK);
  for (int i = 0; i < 20; ++i) REQUIRE(artana_host_tick(host, 1000, nullptr) == ARTANA_OK);
  REQUIRE(status_of(run) == "sleeping");
  const int started = find(h.events, {R"("status":"running")", R"("type":"run_started")"});
  const int nap = find(h.events, {"2 ", R"("step_key":"sleep:1","type":"sleep_started")"});
  const int woke = find(h.events, {"2 ", R"("step_key":"sleep:1","type":"sleep_completed")"});
  const int summary = find(h.events, {"2 ", R"("type":"run_summary")"});
  const int asleep = find(h.events, {"1 ", R"("status":"sleeping","type":"sleep_started")"});
  INFO(h.events.size());
  CHECK(started == 0);
  CHECK((nap > started && woke > nap && summary > woke && asleep > summary));
  // The zero-second sleep changed no status: neither of its events is heard as one.
  CHECK(find(h.events, {"1 ", R"("seq":)", R"("type":"sleep_completed")"}) == -1);
  h.events.clear();
  g_game_us += 5'000'000;
  REQUIRE(artana_host_run_until_idle(host, 10'000) == ARTANA_OK);
  REQUIRE(status_of(run) == "completed");
  const int awake = find(h.events, {"1 ", R"("status":"running","type":"sleep_completed")"});
  const int done = find(h.events, {"1 ", R"("status":"completed","type":"run_completed")"});
  CHECK(awake >= 0);
  CHECK(done > awake);
  artana_run_release(run);
  artana_host_destroy(host);
}
