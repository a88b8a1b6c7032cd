// run:model over HTTP with calls in flight: 100 runs waiting at once, and a call carried
// across a reload (adopted) or ended by an unload.
#include <catch2/catch.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include "artana/kernel/json_parse.h"
#include "host/http_model_support.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

TEST_CASE("100 runs have their 100 requests in flight at once", "[http]") {
  std::atomic<int> now{0}, most{0};
  HttpTestServer server([&](const HttpRequest&) {
    const int at_once = ++now;
    int seen = most.load();
    while (at_once > seen && !most.compare_exchange_weak(seen, at_once)) {
    }
    // Held until all 100 arrived (or 10 s): proves they were in flight together.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (most.load() < 100 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    --now;
    return json_reply(chat_answer("\"ok\""));
  });
  host::HostOptions options = with_endpoint(server, host::ApiMode::kChat);
  options.models.entries["*"].max_connections = 100;
  HostFixture f(std::move(options));
  const std::string path = f.script("ask.lua", kAsk);
  for (int i = 0; i < 100; ++i) {
    host::RunOptions run;
    run.run_id = kernel::RunId("run-wide-" + std::to_string(i));
    run.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, run).ok());
  }
  f.drive("run-wide-0");
  for (int i = 0; i < 100; ++i) {
    auto outcome = f.host->outcome(kernel::RunId("run-wide-" + std::to_string(i)));
    REQUIRE(outcome.has_value());
    INFO(text(outcome->error));
    REQUIRE(outcome->status == RunStatus::kCompleted);
  }
  CHECK(most.load() == 100);
}

TEST_CASE("HTTP completions are delivered within a tick's budget, one at least", "[http]") {
  constexpr int kRuns = 20;
  std::atomic<int> arrived{0};
  HttpTestServer server([&](const HttpRequest&) {
    ++arrived;
    // Held until all arrived (or 10 s), so the answers come back together.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (arrived.load() < kRuns && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return json_reply(chat_answer("\"ok\""));
  });
  host::HostOptions options = with_endpoint(server, host::ApiMode::kChat);
  options.models.entries["*"].max_connections = kRuns;
  HostFixture f(std::move(options));
  const std::string path = f.script("ask.lua", kAsk);
  auto id = [](int i) { return "run-budget-" + std::to_string(i); };
  for (int i = 0; i < kRuns; ++i) {
    host::RunOptions run;
    run.run_id = kernel::RunId(id(i));
    run.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, run).ok());
  }
  for (int i = 0; i < 1000 && f.host->in_flight() < kRuns; ++i) {
    f.host->tick(std::chrono::milliseconds(10));
  }
  REQUIRE(f.host->in_flight() == kRuns);
  auto completed = [&] {
    size_t n = 0;
    for (int i = 0; i < kRuns; ++i) n += f.count(id(i), "model_completed");
    return n;
  };
  REQUIRE(f.host->wait_for_work(std::chrono::seconds(20)));  // the answers are here
  CHECK(completed() == 0);
  // A tick with no budget left finishes one step, not every answer that came.
  f.host->tick(std::chrono::microseconds(0));
  CHECK(completed() == 1);
  f.drive(id(0));
  CHECK(completed() == kRuns);
  for (int i = 0; i < kRuns; ++i) {
    auto outcome = f.host->outcome(kernel::RunId(id(i)));
    REQUIRE(outcome.has_value());
    CHECK(outcome->status == RunStatus::kCompleted);
  }
}

TEST_CASE("a Host destroyed with an HTTP call in flight cancels it, the next one asks again",
          "[http]") {
  std::atomic<int> arrived{0};
  HttpTestServer server([&](const HttpRequest&) {
    HttpReply reply = json_reply(chat_answer("\"answered\""));
    if (++arrived == 1) reply.delay_ms = 3000;  // the first is still out when the host goes
    return reply;
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  const std::string path = f.script("ask.lua", kAsk);
  host::RunOptions options;
  options.run_id = kernel::RunId("run-gone");
  options.tenant.tenant_id = kernel::TenantId("acme");
  REQUIRE(f.host->start(path, options).ok());
  for (int i = 0; i < 100 && f.host->in_flight() == 0; ++i) {
    f.host->tick(std::chrono::milliseconds(10));
  }
  REQUIRE(f.host->in_flight() == 1);
  REQUIRE(server.wait_for_requests(1));
  const auto start = std::chrono::steady_clock::now();
  f.restart(with_endpoint(server, host::ApiMode::kChat));  // ~Host: the transfer is cancelled
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
  host::RunOutcome done = f.run(path, "run-gone");
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("text")->as_string() == "answered");
  CHECK(arrived.load() == 2);
  CHECK(f.count("run-gone", "model_completed") == 1);
}

TEST_CASE("an HTTP call in flight is adopted by a reload and cancelled by an unload", "[http]") {
  std::atomic<int> arrived{0};
  HttpTestServer server([&](const HttpRequest&) {
    ++arrived;
    HttpReply reply = json_reply(chat_answer("\"slow\""));
    reply.delay_ms = 300;
    return reply;
  });
  HostFixture f(with_endpoint(server, host::ApiMode::kChat));
  const std::string path = f.script("ask.lua", kAsk);
  auto start_until_in_flight = [&](const std::string& run_id) {
    host::RunOptions options;
    options.run_id = kernel::RunId(run_id);
    options.tenant.tenant_id = kernel::TenantId("acme");
    REQUIRE(f.host->start(path, options).ok());
    for (int i = 0; i < 100 && f.host->in_flight() == 0; ++i) {
      f.host->tick(std::chrono::milliseconds(10));
    }
    REQUIRE(f.host->in_flight() == 1);
  };

  SECTION("reload: the new execution adopts the call, one request, one step") {
    start_until_in_flight("run-adopt");
    REQUIRE(f.host->reload(kernel::RunId("run-adopt")).ok());
    host::RunOutcome done = f.drive("run-adopt");
    INFO(text(done.error));
    REQUIRE(done.status == RunStatus::kCompleted);
    CHECK(done.output.find("text")->as_string() == "slow");
    CHECK(arrived == 1);
    CHECK(f.count("run-adopt", "model_requested") == 1);
  }
  SECTION("unload: the request is cancelled and its answer never arrives") {
    start_until_in_flight("run-unload");
    REQUIRE(server.wait_for_requests(1));
    REQUIRE(f.host->unload(kernel::RunId("run-unload")).ok());
    CHECK(f.host->in_flight() == 0);
    f.host->tick(std::chrono::milliseconds(10));
    CHECK(f.count("run-unload", "model_requested") == 0);
    CHECK(f.host->kernel().stats().pending_steps == 0);
  }
}

}  // namespace
}  // namespace artana::testing
