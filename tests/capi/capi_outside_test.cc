// The C API's options for what runs may reach outside the host — http_allow, secret_env,
// workspace, models — checked as the CLI's flags are, and a run using each through a host made
// with them: run:http to a local server with a secret header, run:exec in the workspace, a
// live model step answered by the endpoint a models file names.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

#include "capi/capi_support.h"
#include "support/http_test_server.h"

using namespace artana::capi_test;
using artana::testing::HttpReply;
using artana::testing::HttpRequest;
using artana::testing::HttpTestServer;

namespace {

std::string write_file(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::string path = (dir.path() / name).string();
  std::ofstream(path) << text;
  return path;
}

// Runs `source` to its end in `host`, with `options_json`; returns its output.
std::string run_to_end(artana_host* host, const std::string& source, const char* options_json) {
  artana_script* script = load(host, "outside", source);
  artana_run* run = nullptr;
  const artana_status started = artana_run_start(host, script, nullptr, options_json, &run);
  INFO(artana_last_error());
  REQUIRE(started == ARTANA_OK);
  run_until_idle(host);
  const std::string status = status_of(run);
  char* error = nullptr;
  size_t len = 0;
  std::string error_text;
  if (artana_run_error(run, &error, &len) == ARTANA_OK && error != nullptr) {
    error_text.assign(error, len);
    artana_free(error);
  }
  INFO(error_text);
  REQUIRE(status == "completed");
  return output_of(run);
}

}  // namespace

TEST_CASE("artana_options_set refuses a bad http_allow, secret_env, workspace or models by name",
          "[capi]") {
  TempDir dir;
  artana_options* options = nullptr;
  REQUIRE(artana_options_create(&options) == ARTANA_OK);
  auto refused = [&](const char* key, const std::string& value, const char* says) {
    INFO(key << " = " << value);
    CHECK(artana_options_set(options, key, value.c_str()) == ARTANA_E_INVALID_ARGUMENT);
    INFO(artana_last_error());
    CHECK(last_error_names((std::string("option '") + key + "'").c_str()));
    CHECK(last_error_names(says));
  };
  refused("http_allow", "example.com,exa mple.com", "'exa mple.com'");
  refused("secret_env", "TOKEN,NOT A NAME", "'NOT A NAME' is not a variable name");
  refused("workspace", (dir.path() / "no-such-dir").string(), "is not a directory");
  refused("models", (dir.path() / "missing.lua").string(), "cannot read");
  refused(
      "models",
      write_file(dir, "typo.lua",
                 R"(return { ["*"] = { base_url = "http://127.0.0.1:9/v1", idle_timeout = 5 } })"),
      "typo.lua: models entry '*': idle_timeout is not a field");
  CHECK(artana_options_set(options, "no_such_key", "1") == ARTANA_E_INVALID_ARGUMENT);
  CHECK(last_error_names("workspace, models"));  // the keys there are, listed
  artana_options_destroy(options);
}

TEST_CASE("a host made with http_allow, secret_env and workspace lets runs reach them, no more",
          "[capi][http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    reply.headers = {{"Content-Type", "text/plain"}};
    reply.body = "token " + request.header("x-token");
    return reply;
  });
  ::setenv("ARTANA_CAPI_SECRET", "capi-secret-7f3a", 1);
  const std::string script = R"lua(
return function(run, input)
  local got = run:http { url = input.url, headers = { ["X-Token"] = { secret = "ARTANA_CAPI_SECRET" } } }
  local ran = run:exec { argv = { "echo", "from the workspace" } }
  return { status = got.status, body = got.body, out = ran.stdout, code = ran.exit_code }
end
)lua";
  const std::string input = R"({"url":")" + server.url("/hello") + R"("})";
  const char* caps = R"({"caps":["net:http","exec:run"]})";
  TempDir dir;
  TempDir workspace;
  {
    artana_options* options = ledger_options(dir);
    REQUIRE(artana_options_set(options, "http_allow",
                               ("127.0.0.1:" + std::to_string(server.port())).c_str()) ==
            ARTANA_OK);
    REQUIRE(artana_options_set(options, "secret_env", "ARTANA_CAPI_SECRET") == ARTANA_OK);
    REQUIRE(artana_options_set(options, "workspace", workspace.str().c_str()) == ARTANA_OK);
    artana_host* host = nullptr;
    REQUIRE(artana_host_create(ARTANA_ABI_VERSION, options, &host) == ARTANA_OK);
    artana_options_destroy(options);
    artana_script* loaded = load(host, "outside", script);
    artana_run* run = nullptr;
    REQUIRE(artana_run_start(host, loaded, input.c_str(), caps, &run) == ARTANA_OK);
    run_until_idle(host);
    CHECK(status_of(run) == "completed");
    const std::string output = output_of(run);
    CHECK(output.find(R"("body":"token [secret]")") != std::string::npos);  // never the value
    CHECK(output.find(R"("out":"from the workspace\n")") != std::string::npos);
    CHECK(output.find(R"("code":0)") != std::string::npos);
    artana_host_destroy(host);
  }
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].header("x-token") == "capi-secret-7f3a");
  // Without the options the same calls are refused: nothing is reachable by default.
  TempDir other;
  artana_host* bare = open_host(other);
  const std::string refused = run_to_end(bare, R"lua(
return function(run, input)
  local http_ok, http_error = pcall(run.http, run, { url = input.url })
  local exec_ok, exec_error = pcall(run.exec, run, { argv = { "echo", "x" } })
  return { http = http_ok or http_error.kind, exec = exec_ok or exec_error.kind }
end
)lua",
                                         caps);
  artana_host_destroy(bare);
  INFO(refused);
  CHECK(refused.find(R"("http":"invalid_argument")") != std::string::npos);  // no host allowed
  CHECK(refused.find(R"("exec":"policy_violation")") != std::string::npos);  // no workspace
  CHECK(server.request_count() == 1);
  ::unsetenv("ARTANA_CAPI_SECRET");
}

TEST_CASE("a host made with a models file answers live model steps from that endpoint",
          "[capi][http]") {
  HttpTestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.headers = {{"Content-Type", "application/json"}};
    reply.body = R"({"id":"resp_1","status":"completed","output":[{"type":"message","content":[)"
                 R"({"type":"output_text","text":"Hello from the endpoint."}]}],)"
                 R"("usage":{"input_tokens":3,"output_tokens":4,"total_tokens":7}})";
    return reply;
  });
  TempDir dir;
  const std::string models = write_file(
      dir, "models.lua", R"(return { ["*"] = { base_url = ")" + server.url("/v1") + R"(" } })");
  artana_options* options = ledger_options(dir);
  REQUIRE(artana_options_set(options, "models", models.c_str()) == ARTANA_OK);
  artana_host* host = nullptr;
  REQUIRE(artana_host_create(ARTANA_ABI_VERSION, options, &host) == ARTANA_OK);
  artana_options_destroy(options);
  const std::string output = run_to_end(host, R"lua(
return function(run)
  return run:model { model = "gpt-test", prompt = "hello?" }.output.text
end
)lua",
                                        nullptr);
  artana_host_destroy(host);
  CHECK(output == R"("Hello from the endpoint.")");
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].target == "/v1/responses");
  CHECK(server.requests()[0].body.find("gpt-test") != std::string::npos);
}
