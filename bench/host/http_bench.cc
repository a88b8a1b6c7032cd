// http_bench: model steps answered over HTTP (docs/benchmarks.md, "Outside world").
//   http_bench [--json] [--quick] [--dir DIR] [--only step|wide|default]
// Lua scripts on a real LMDB ledger (durability none) whose model steps go to an
// OpenAI-compatible endpoint: the test server (tests/support/http_test_server.h) on
// 127.0.0.1, in this process, through the Host's I/O thread and real libcurl.
#include <sys/resource.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "host/bench_host.h"
#include "support/bench_report.h"
#include "support/http_test_server.h"

using namespace artana;
using namespace artana::bench;
using artana::testing::HttpReply;
using artana::testing::HttpRequest;
using artana::testing::HttpTestServer;

namespace {

// A Chat Completions answer of about 1 KiB.
HttpReply answer(int delay_ms) {
  static const std::string body =
      R"({"id":"chatcmpl-b","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":")" +
      std::string(900, 'a') +
      R"("},"finish_reason":"stop"}],"usage":{"prompt_tokens":1000,"completion_tokens":220,"total_tokens":1220}})";
  HttpReply reply;
  reply.headers = {{"Content-Type", "application/json"}};
  reply.body = body;
  reply.delay_ms = delay_ms;
  return reply;
}

host::HostOptions endpoint_options(const HttpTestServer& server, int max_connections) {
  host::HostOptions options;
  host::ModelEndpoint endpoint;
  endpoint.base_url = server.url("/v1");
  endpoint.api_mode = host::ApiMode::kChat;
  endpoint.max_connections = max_connections;
  options.models.entries.emplace("*", endpoint);
  return options;
}

// `steps` model steps, each with a prompt of about 4 KiB (the request's body).
const char kSteps[] = R"lua(
local filler = string.rep("x", 4000)
return function(run, input)
  local n = 0
  for i = 1, input.steps do
    local r = run:model { model = "gpt-bench", prompt = i .. filler }
    n = n + #r.output.text
  end
  return n
end
)lua";

// http_model_step_us: one run's live steps, one at a time over one kept-alive connection;
// each sample is (the run's wall time − the server's own time) / steps.
void bench_step(const Settings& s) {
  HttpTestServer server([](const HttpRequest&) { return answer(0); });
  const int runs = s.quick ? 3 : 11;
  const int steps = s.quick ? 100 : 500;
  const std::string script = write_script(s.dir, "steps.lua", kSteps);
  Bench b(s.dir + "/step", endpoint_options(server, 64));
  std::vector<double> per_step;
  for (int r = -1; r < runs; ++r) {  // run -1 warms libcurl, the connection and the caches
    const std::string run = "step-" + std::to_string(r + 1);
    const int64_t served_before = server.served_ns();
    b.start(script, run, Json::object({{"steps", steps}}));
    const double t0 = now_us();
    b.drive();
    const double elapsed = now_us() - t0;
    b.outcome(run, RunStatus::kCompleted);
    must(b.host->unload(RunId(run)), "unloading a run");
    const double served_us = static_cast<double>(server.served_ns() - served_before) / 1000;
    if (r >= 0) per_step.push_back((elapsed - served_us) / steps);
  }
  report(summarize("http_model_step_us", "us", per_step), Target{150}, s.json);
}

// 1 000 runs of one step each, started together; the server answers each after 50 ms.
// Wall time from the first start to the last run completed.
double thousand_runs(const Settings& s, const std::string& name, int max_connections) {
  HttpTestServer server([](const HttpRequest&) { return answer(50); });
  const std::string script = write_script(s.dir, "one.lua", kSteps);
  Bench b(s.dir + "/" + name, endpoint_options(server, max_connections));
  const int runs = 1000;
  const double t0 = now_us();
  for (int i = 0; i < runs; ++i) {
    b.start(script, name + "-" + std::to_string(i), Json::object({{"steps", 1}}));
  }
  b.drive();
  const double elapsed_s = (now_us() - t0) / 1e6;
  for (int i = 0; i < runs; ++i) b.outcome(name + "-" + std::to_string(i), RunStatus::kCompleted);
  return elapsed_s;
}

void bench_thousand(const Settings& s, const char* figure, int max_connections, double target) {
  std::vector<double> times;
  const int repeats = s.quick ? 1 : 5;
  for (int i = 0; i < repeats; ++i) {
    times.push_back(thousand_runs(s, figure + std::to_string(i), max_connections));
  }
  report(summarize(figure, "s", times), Target{target}, s.json);
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_settings(argc, argv, "step|wide|default", "artana-http");
  // 1 000 connections at once are 2 000 descriptors in this process (client and server).
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < 8192) {
    files.rlim_cur = std::min<rlim_t>(files.rlim_max, 8192);
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  info(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  if (s.wants("step")) bench_step(s);
  // (1000 / 1000) × 50 ms + 0.5 s, and (1000 / 64) × 50 ms + 0.5 s.
  if (s.wants("wide")) bench_thousand(s, "http_1000_steps_wide_s", 1000, 0.6);
  if (s.wants("default")) bench_thousand(s, "http_1000_steps_default_s", 64, 1.28);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
