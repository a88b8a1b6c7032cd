// artana_host_set_clock: the application's time (a game's clock, paused with the game) is
// what run:now() records and what run:sleep() waits on; set before the first run only.
#include "capi/capi_support.h"

using namespace artana::capi_test;

namespace {

struct GameClock {
  int64_t now_us = 1'000'000'000'000;  // 11.6 days after the epoch: nothing like today
  int reads = 0;
};

int64_t read_game_clock(void* user) {
  auto* clock = static_cast<GameClock*>(user);
  ++clock->reads;
  return clock->now_us;
}

const char kNap[] = R"lua(
return function(run)
  local before = run:now()
  run:sleep(5)
  return { before = before, after = run:now() }
end
)lua";

}  // namespace

TEST_CASE("the application's clock times run:now and run:sleep, and is set before any run",
          "[capi][clock]") {
  TempDir dir;
  artana_host* host = open_host(dir);
  GameClock game;
  CHECK(artana_host_set_clock(nullptr, read_game_clock, &game) == ARTANA_E_INVALID_ARGUMENT);
  REQUIRE(artana_host_set_clock(host, read_game_clock, &game) == ARTANA_OK);
  artana_script* script = load(host, "nap", kNap);
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, nullptr, R"({"run_id":"nap-1"})", &run) == ARTANA_OK);
  // The game is paused: however often the host ticks, the nap is not over.
  artana_tick_stats stats{};
  for (int i = 0; i < 50; ++i) REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
  CHECK(status_of(run) == "sleeping");
  CHECK(stats.next_wakeup_us == game.now_us + 5'000'000);  // in the game's time
  game.now_us += 4'999'999;
  REQUIRE(artana_host_tick(host, 1000, &stats) == ARTANA_OK);
  CHECK(status_of(run) == "sleeping");
  game.now_us += 1;  // five game seconds after it fell asleep
  REQUIRE(artana_host_run_until_idle(host, 10'000) == ARTANA_OK);
  CHECK(status_of(run) == "completed");
  CHECK(output_of(run) == R"({"after":1000005,"before":1000000})");
  CHECK(game.reads > 0);
  // Too late to change clocks: the timers set count in this one.
  CHECK(artana_host_set_clock(host, nullptr, nullptr) == ARTANA_E_STATE);
  CHECK(std::string(artana_last_error()).find("before the first run") != std::string::npos);
  artana_run_release(run);
  artana_host_destroy(host);
}
