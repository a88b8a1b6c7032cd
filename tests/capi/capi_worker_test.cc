// Worker mode (threads=worker): the host ticks itself on a thread of its own. The application
// starts runs and reads them from its threads, answers native calls from others, and hears
// every callback on the worker; artana_host_tick is refused, run_until_idle waits.
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "capi/capi_support.h"

using namespace artana::capi_test;

namespace {

artana_host* open_worker_host(const TempDir& dir) {
  artana_options* options = ledger_options(dir);
  REQUIRE(artana_options_set(options, "threads", "worker") == ARTANA_OK);
  artana_host* host = nullptr;
  const artana_status created = artana_host_create(ARTANA_ABI_VERSION, options, &host);
  artana_options_destroy(options);
  INFO(artana_last_error());
  REQUIRE(created == ARTANA_OK);
  return host;
}

// The port's calls, answered by the test's own threads; the threads the callbacks ran on.
struct Brain {
  std::mutex mu;
  std::condition_variable arrived;
  std::vector<artana_completion> calls;
  std::set<std::thread::id> callback_threads;
  std::atomic<int> tick_refused{0};
  artana_host* host = nullptr;
};

void remember(void* user, const artana_call*, artana_completion done) {
  auto* brain = static_cast<Brain*>(user);
  // Inside a callback the host cannot be ticked (nor waited for, nor destroyed).
  if (artana_host_tick(brain->host, 1000, nullptr) == ARTANA_E_STATE) ++brain->tick_refused;
  std::lock_guard<std::mutex> lock(brain->mu);
  brain->calls.push_back(done);
  brain->callback_threads.insert(std::this_thread::get_id());
  brain->arrived.notify_all();
}

// The port registered on `host`, its calls queued in `brain`.
void attach(Brain& brain, artana_host* host) {
  brain.host = host;
  REQUIRE(artana_model_port_register(host, "brain", remember, &brain) == ARTANA_OK);
}

// The port's calls once `n` have come (the worker makes them: the test never ticks).
std::vector<artana_completion> calls_when(Brain& brain, size_t n) {
  std::unique_lock<std::mutex> lock(brain.mu);
  brain.arrived.wait_for(lock, std::chrono::minutes(1), [&] { return brain.calls.size() >= n; });
  return brain.calls;
}

const char kScript[] = R"lua(
return function(run, input)
  local said = run:model{ model = "brain", messages = {{ role = "user", content = input.q }} }
  return { q = input.q, a = said.output.text }
end
)lua";

}  // namespace

TEST_CASE(
    "worker mode: the host ticks itself, runs started and answered from other threads "
    "finish, callbacks run on the worker",
    "[capi][worker]") {
  TempDir dir;
  artana_host* host = open_worker_host(dir);
  Brain brain;
  attach(brain, host);
  std::atomic<int> statuses{0};
  std::set<std::thread::id> event_threads;
  std::mutex event_mu;
  struct EventSink {
    std::atomic<int>* statuses;
    std::set<std::thread::id>* threads;
    std::mutex* mu;
  } sink{&statuses, &event_threads, &event_mu};
  REQUIRE(artana_host_set_event_callback(
              host, ARTANA_EVENT_STATUS,
              [](void* user, const artana_event*) {
                auto* s = static_cast<EventSink*>(user);
                ++*s->statuses;
                std::lock_guard<std::mutex> lock(*s->mu);
                s->threads->insert(std::this_thread::get_id());
              },
              &sink) == ARTANA_OK);
  // The application does not tick in worker mode.
  CHECK(artana_host_tick(host, 1000, nullptr) == ARTANA_E_STATE);
  CHECK(std::string(artana_last_error()).find("threads=worker") != std::string::npos);

  artana_script* script = load(host, "ask", kScript);
  // Four application threads start 25 runs each.
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> starters;
  std::atomic<int> started{0};
  for (int t = 0; t < kThreads; ++t) {
    starters.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
        const std::string input = R"({"q":")" + id + R"("})";
        const std::string options = R"({"run_id":")" + id + R"("})";
        artana_run* run = nullptr;
        if (artana_run_start(host, script, input.c_str(), options.c_str(), &run) == ARTANA_OK) {
          ++started;
          artana_run_release(run);
        }
      }
    });
  }
  for (std::thread& t : starters) t.join();
  REQUIRE(started == kThreads * kPerThread);
  // The worker makes the calls without the application ticking.
  const std::vector<artana_completion> calls = calls_when(brain, kThreads * kPerThread);
  REQUIRE(calls.size() == kThreads * kPerThread);
  // Answered from 8 threads at once.
  std::vector<std::thread> answerers;
  std::atomic<int> refused{0};  // counted, checked here: Catch's assertions are not thread-safe
  for (int t = 0; t < 8; ++t) {
    answerers.emplace_back([&, t] {
      static const char kReply[] = R"({"output":{"text":"yes"}})";
      for (size_t i = static_cast<size_t>(t); i < calls.size(); i += 8)
        if (artana_complete_ok(calls[i], kReply, sizeof kReply - 1) != ARTANA_OK) ++refused;
    });
  }
  for (std::thread& t : answerers) t.join();
  CHECK(refused == 0);
  INFO(artana_last_error());
  REQUIRE(artana_host_run_until_idle(host, 60'000) == ARTANA_OK);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kPerThread; ++i) {
      const std::string id = "w" + std::to_string(t) + "-" + std::to_string(i);
      artana_run* run = nullptr;
      REQUIRE(artana_run_open(host, id.c_str(), &run) == ARTANA_OK);
      CHECK(status_of(run) == "completed");
      CHECK(output_of(run) == R"({"a":"yes","q":")" + id + R"("})");
      artana_run_release(run);
    }
  }
  // Every callback ran on one thread, the worker — not this one, not the starters'.
  CHECK(brain.callback_threads.size() == 1);
  CHECK(brain.callback_threads.count(std::this_thread::get_id()) == 0);
  CHECK(brain.tick_refused == kThreads * kPerThread);
  {
    std::lock_guard<std::mutex> lock(event_mu);
    CHECK(event_threads == brain.callback_threads);
  }
  CHECK(statuses >= kThreads * kPerThread);  // each run's start and end at least
  artana_host_destroy(host);
}

TEST_CASE("worker mode: destroyed with calls in flight, the worker stops and nothing leaks",
          "[capi][worker]") {
  TempDir dir;
  artana_host* host = open_worker_host(dir);
  Brain brain;
  attach(brain, host);
  artana_script* script = load(host, "ask", kScript);
  artana_run* run = nullptr;
  REQUIRE(artana_run_start(host, script, R"({"q":"late"})", R"({"run_id":"late"})", &run) ==
          ARTANA_OK);
  CHECK(artana_host_run_until_idle(host, 50) == ARTANA_E_STATE);  // the call is outstanding
  const std::vector<artana_completion> calls = calls_when(brain, 1);
  REQUIRE(calls.size() == 1);
  const artana_completion pending = calls.front();
  artana_host_destroy(host);
  // The host went: its call is cancelled, nothing is recorded.
  static const char kReply[] = R"({"output":{"text":"too late"}})";
  CHECK(artana_complete_ok(pending, kReply, sizeof kReply - 1) == ARTANA_E_CANCELLED);
}
