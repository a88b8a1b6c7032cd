// The CLI's model endpoints, as a user runs them: samples/real_model against a local
// OpenAI-compatible server, the key only ever in the Authorization header, replay with no
// endpoint, and bad flags and --models files refused naming what is wrong.
#include <catch2/catch.hpp>

#include <sys/resource.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>

#include "artana/kernel/json_parse.h"
#include "support/http_test_server.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

const char kKey[] = "sk-sample-5e3c1a9b7d";

std::string sample_path() {
  return std::string(ARTANA_SOURCE_DIR) + "/samples/real_model/real_model.lua";
}

HttpReply responses_reply() {
  HttpReply reply;
  reply.headers = {{"Content-Type", "application/json"}};
  reply.body = R"({"id":"resp_1","status":"completed","output":[{"type":"message","content":[)"
               R"({"type":"output_text","text":"Hello from the test server."}]}],)"
               R"("usage":{"input_tokens":30,"output_tokens":7,"total_tokens":37}})";
  return reply;
}

}  // namespace

TEST_CASE("samples/real_model runs against an OpenAI-compatible endpoint and replays without it",
          "[samples][http]") {
  HttpTestServer server([](const HttpRequest&) { return responses_reply(); });
  TempDir dir;
  const std::string data = (dir.path() / "ledger").string();
  const std::string command = "--data " + data + " run " + sample_path() +
                              " --run-id real-1 --json --model-endpoint " + server.url("/v1") +
                              " --api-key-env ARTANA_SAMPLE_KEY";
  CliRun first = run_cli_env({{"ARTANA_SAMPLE_KEY", kKey}}, command);
  INFO(first.out << first.err);
  REQUIRE(first.exit_code == 0);
  auto result = kernel::parse_json(first.out);
  REQUIRE(result.ok());
  const kernel::Json* output = result->find("output");
  REQUIRE(output != nullptr);
  CHECK(output->find("reply")->as_string() == "Hello from the test server.");
  CHECK(output->find("usage")->find("total_tokens")->as_integer() == 37);
  REQUIRE(server.request_count() == 1);
  const HttpRequest seen = server.requests()[0];
  CHECK(seen.target == "/v1/responses");
  CHECK(seen.header("authorization") == std::string("Bearer ") + kKey);
  CHECK(seen.body.find("gpt-4o-mini") != std::string::npos);
  // The key is in no output and no file of the ledger.
  CHECK(first.out.find(kKey) == std::string::npos);
  CHECK(first.err.find(kKey) == std::string::npos);
  CHECK_FALSE(any_file_contains(dir.path(), kKey));

  // The same run id, no endpoint, no key: replayed from the ledger.
  CliRun again =
      run_cli_env({}, "--data " + data + " run " + sample_path() + " --run-id real-1 --json");
  INFO(again.out << again.err);
  REQUIRE(again.exit_code == 0);
  auto replayed = kernel::parse_json(again.out);
  REQUIRE(replayed.ok());
  CHECK(replayed->find("output")->find("replayed")->as_bool());
  CHECK(server.request_count() == 1);
}

TEST_CASE("the CLI waits for a slow answer without spinning, and OPENAI_API_KEY is the default key",
          "[http]") {
  HttpTestServer server([](const HttpRequest&) {
    HttpReply reply = responses_reply();
    reply.delay_ms = 1500;
    return reply;
  });
  TempDir dir;
  rusage before{};
  ::getrusage(RUSAGE_CHILDREN, &before);
  const auto start = std::chrono::steady_clock::now();
  CliRun run = run_cli_env({{"OPENAI_API_KEY", kKey}},
                           "--data " + (dir.path() / "l").string() + " run " + sample_path() +
                               " --model-endpoint " + server.url("/v1"));
  const auto wall = std::chrono::steady_clock::now() - start;
  rusage after{};
  ::getrusage(RUSAGE_CHILDREN, &after);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(wall >= std::chrono::milliseconds(1500));
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  const double cpu = seconds(after.ru_utime) - seconds(before.ru_utime) + seconds(after.ru_stime) -
                     seconds(before.ru_stime);
  // A loop polling for the answer would burn the 1.5 s; waiting costs the start and the step.
  CHECK(cpu < 0.75);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].header("authorization") == std::string("Bearer ") + kKey);
}

TEST_CASE("the --stream flag asks the endpoint for a stream", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    if (request.body.find("\"stream\":true") == std::string::npos) {
      reply.status = 400;
      reply.body = R"({"error":{"message":"this test wants a stream"}})";
      return reply;
    }
    reply.headers = {{"Content-Type", "text/event-stream"}};
    reply.body =
        "event: response.completed\ndata: "
        R"({"type":"response.completed","response":{"id":"resp_2","status":"completed","output":[)"
        R"({"type":"message","content":[{"type":"output_text","text":"Streamed to the CLI."}]}],)"
        R"("usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}}})"
        "\n\n";
    return reply;
  });
  TempDir dir;
  CliRun run = run_cli_env({}, "--data " + (dir.path() / "l").string() + " run " + sample_path() +
                                   " --json --stream --model-endpoint " + server.url("/v1"));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  CHECK(run.out.find("Streamed to the CLI.") != std::string::npos);
  CHECK(server.request_count() == 1);
}

TEST_CASE("a live step with no endpoint exits 1 naming the flag, nothing recorded", "[http]") {
  TempDir dir;
  CliRun run = run_cli_env({{"OPENAI_API_KEY", ""}}, "--data " + (dir.path() / "l").string() +
                                                         " run " + sample_path() + " --run-id r");
  CHECK(run.exit_code == 1);
  CHECK(run.err.find("model_failed") != std::string::npos);
  CHECK(run.err.find("--model-endpoint") != std::string::npos);
}

TEST_CASE("bad model flags and --models files exit 2 naming the flag, file and field", "[http]") {
  TempDir dir;
  const std::string data = "--data " + (dir.path() / "l").string() + " run " + sample_path();
  auto refused = [&](const std::string& flags, const std::string& says) {
    CliRun run = run_cli_env({}, data + " " + flags);
    INFO(flags << "\n" << run.out << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(says) != std::string::npos);
  };
  refused("--model-endpoint ftp://example.com/v1", "--model-endpoint");
  refused("--model-endpoint http://127.0.0.1:1/v1 --api-key-env 'BAD NAME'", "api_key_env");
  refused("--api-key-env KEY", "--api-key-env");
  refused("--models " + (dir.path() / "missing.lua").string(), "cannot read");

  auto models_file = [&](const std::string& name, const std::string& lua) {
    const std::string path = (dir.path() / name).string();
    std::ofstream(path) << lua;
    return path;
  };
  refused(
      "--models " +
          models_file(
              "typo.lua",
              R"(return { ["gpt-*"] = { base_url = "http://127.0.0.1:9/v1", idle_timeout = 5 } })"),
      "typo.lua: models entry 'gpt-*': idle_timeout is not a field");
  refused(
      "--models " +
          models_file(
              "type.lua",
              R"(return { ["*"] = { base_url = "http://127.0.0.1:9/v1", max_retries = "two" } })"),
      "type.lua: models entry '*': max_retries must be an integer");
  refused(
      "--models " +
          models_file(
              "price.lua",
              R"(return { m = { base_url = "http://127.0.0.1:9/v1", prices = { input = -1 } } })"),
      "prices.input");
  refused("--models " + models_file("syntax.lua", "return {"), "syntax.lua");
  refused("--models " + models_file("sandbox.lua", "return os.getenv('HOME')"), "sandbox.lua");
  refused("--models " + models_file("loop.lua", "while true do end"), "loop.lua");
}

TEST_CASE("the operator's flags: bad values exit 2 naming the flag, and every verb takes them",
          "[http]") {
  TempDir dir;
  const std::string data = "--data " + (dir.path() / "l").string();
  auto refused = [&](const std::string& args, const std::string& says) {
    CliRun run = run_cli_env({}, data + " " + args);
    INFO(args << "\n" << run.out << run.err);
    CHECK(run.exit_code == 2);
    CHECK(run.err.find(says) != std::string::npos);
  };
  const std::string missing = (dir.path() / "no-such-dir").string();
  for (const std::string& verb :
       {"run " + sample_path(), std::string("resume r1"), std::string("worker --once")}) {
    refused(verb + " --workspace " + missing, "--workspace: '" + missing + "' is not a directory");
    refused(verb + " --secret-env 'NOT A NAME'", "--secret-env: 'NOT A NAME' is not a variable");
    refused(verb + " --http-allow 'exa mple.com'", "--http-allow");
  }
  // A worker resuming runs that use run:exec or the files needs the workspace too.
  CliRun worker = run_cli_env({}, data + " worker --once --workspace " + dir.path().string() +
                                      " --secret-env TOKEN --http-allow example.com");
  INFO(worker.out << worker.err);
  CHECK(worker.exit_code == 0);
}

TEST_CASE("a --models file routes models by name and prefix", "[http]") {
  HttpTestServer server([](const HttpRequest&) { return responses_reply(); });
  TempDir dir;
  const std::string models = (dir.path() / "models.lua").string();
  std::ofstream(models) << "return { [\"gpt-*\"] = { base_url = \"" << server.url("/api/v1")
                        << "\", api_mode = \"responses\", prices = { input = 1, output = 2 } } }";
  CliRun run = run_cli_env({}, "--data " + (dir.path() / "l").string() + " run " + sample_path() +
                                   " --json --models " + models);
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].target == "/api/v1/responses");
}

}  // namespace artana::testing
