// run:http: a built-in tool step through the Host's I/O thread and real libcurl against a
// local server — capabilities in every mode, the allowlist on every URL and redirect,
// secrets read at call time and never recorded, bodies capped or in base64, a side effect
// that may have happened recorded as unknown, replay with nothing configured.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "host/host_fixture.h"
#include "support/http_test_server.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

host::HostOptions allowing(const HttpTestServer& server) {
  host::HostOptions options;
  options.http_allow = {"127.0.0.1:" + std::to_string(server.port())};
  options.secret_env = {"ARTANA_HTTP_SECRET"};
  return options;
}

host::RunOptions with_caps(std::vector<std::string> caps) {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = std::move(caps);
  return options;
}

const char kFetch[] = R"lua(
return function(run, input)
  local ok, r = pcall(run.http, run, input.request)
  if not ok then return { error = r.kind, message = r.message } end
  return r
end
)lua";

Json request_for(const HttpTestServer& server, const std::string& path,
                 const std::string& method = "GET") {
  return Json::object({{"request", Json::object({{"url", server.url(path)}, {"method", method}})}});
}

}  // namespace

TEST_CASE("run:http reaches an allowed host, secrets stay out of the ledger, replay needs nothing",
          "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    reply.headers = {{"Content-Type", "text/plain"}, {"X-Echo", request.header("x-token")}};
    reply.body = "token was " + request.header("x-token") + ", accept " + request.header("accept");
    return reply;
  });
  ::setenv("ARTANA_HTTP_SECRET", "s3cr3t-value-42", 1);
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", R"lua(
return function(run, input)
  return run:http { url = input.url, headers = { Accept = "text/plain",
                                                 ["X-Token"] = { secret = "ARTANA_HTTP_SECRET" } } }
end
)lua");
  host::RunOutcome done = f.run(path, "run-get", Json::object({{"url", server.url("/hello")}}),
                                with_caps({"net:http"}));
  INFO(text(done.error));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("status")->as_integer() == 200);
  CHECK(done.output.find("body")->as_string() == "token was [secret], accept text/plain");
  CHECK(done.output.find("headers")->find("x-echo")->as_string() == "[secret]");
  CHECK(done.output.find("truncated")->as_bool() == false);
  REQUIRE(server.request_count() == 1);
  CHECK(server.requests()[0].header("x-token") == "s3cr3t-value-42");
  CHECK(f.count("run-get", "tool_requested") == 1);
  CHECK_FALSE(any_file_contains(f.kernel_host.dir.path(), "s3cr3t-value-42"));
  // The reference is what is recorded.
  bool reference = false;
  for (const kernel::Event& event : f.events("run-get")) {
    if (event.type != "tool_requested") continue;
    CHECK(event.payload.find("tool")->as_string() == "artana.http_read");
    CHECK(event.payload.find("step_key")->as_string() == "http:1");
    reference =
        text(*event.payload.find("arguments")).find("ARTANA_HTTP_SECRET") != std::string::npos;
  }
  CHECK(reference);

  ::unsetenv("ARTANA_HTTP_SECRET");
  f.restart();  // no allowlist, no secrets, no key: the recorded step replays
  host::RunOutcome again = f.run(path, "run-get", Json::object({{"url", server.url("/hello")}}),
                                 with_caps({"net:http"}));
  INFO(text(again.error));
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(done.output));
  CHECK(server.request_count() == 1);
}

TEST_CASE(
    "run:http without net:http, to a host not allowed or with a secret not allowed is refused, "
    "nothing sent",
    "[http]") {
  HttpTestServer server([](const HttpRequest&) { return HttpReply{}; });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);

  // Permissive mode, a tenant with no capability list: the built-in still needs its own.
  host::RunOutcome no_cap = f.run(path, "run-nocap", request_for(server, "/"), with_caps({}));
  REQUIRE(no_cap.status == RunStatus::kCompleted);
  CHECK(no_cap.output.find("error")->as_string() == "capability_denied");
  CHECK(no_cap.output.find("message")->as_string().find("net:http") != std::string::npos);

  Json elsewhere = Json::object(
      {{"request", Json::object({{"url", "http://127.0.0.1:1/"}, {"method", "GET"}})}});
  host::RunOutcome denied = f.run(path, "run-host", elsewhere, with_caps({"net:http"}));
  CHECK(denied.output.find("error")->as_string() == "policy_violation");
  CHECK(denied.output.find("message")->as_string().find("127.0.0.1") != std::string::npos);
  CHECK(f.count("run-host", "tool_requested") == 0);

  Json secret = request_for(server, "/");
  secret.find("request")->set("headers",
                              Json::object({{"X-Key", Json::object({{"secret", "HOME"}})}}));
  host::RunOutcome env = f.run(path, "run-env", secret, with_caps({"net:http"}));
  CHECK(env.output.find("error")->as_string() == "capability_denied");
  CHECK(env.output.find("message")->as_string().find("--secret-env HOME") != std::string::npos);
  CHECK(f.count("run-env", "tool_requested") == 0);
  CHECK(server.request_count() == 0);
}

TEST_CASE("run:http follows redirects it is allowed, and fails on one it is not", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    if (request.target == "/a") {
      reply.status = 302;
      reply.headers = {{"Location", "/b"}};
    } else if (request.target == "/away") {
      reply.status = 307;
      reply.headers = {{"Location", "http://203.0.113.9/steal"}};
    } else {
      reply.body = "at " + request.target + " by " + request.method;
    }
    return reply;
  });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);
  host::RunOutcome followed =
      f.run(path, "run-redir", request_for(server, "/a"), with_caps({"net:http"}));
  REQUIRE(followed.status == RunStatus::kCompleted);
  CHECK(followed.output.find("body")->as_string() == "at /b by GET");
  CHECK(followed.output.find("url")->as_string() == server.url("/b"));

  host::RunOutcome away =
      f.run(path, "run-away", request_for(server, "/away"), with_caps({"net:http"}));
  REQUIRE(away.status == RunStatus::kCompleted);
  CHECK(away.output.find("error")->as_string() == "policy_violation");
  CHECK(away.output.find("message")->as_string().find("203.0.113.9") != std::string::npos);
  CHECK(server.request_count() == 3);
  // Recorded with its kind: executed again, the run replays the same error, nothing sent.
  bool recorded = false;
  for (const kernel::Event& event : f.events("run-away")) {
    if (event.type != "tool_completed") continue;
    const Json* kind = event.payload.find("error_kind");
    recorded = kind != nullptr && kind->as_string() == "policy_violation";
  }
  CHECK(recorded);
  f.restart();
  host::RunOutcome again =
      f.run(path, "run-away", request_for(server, "/away"), with_caps({"net:http"}));
  CHECK(text(again.output) == text(away.output));
  CHECK(server.request_count() == 3);
}

TEST_CASE(
    "run:http to a name that leads to an internal address not allowed by address is a "
    "policy_violation, nothing sent",
    "[http]") {
  HttpTestServer server([](const HttpRequest&) { return HttpReply{}; });
  // libcurl resolves any *.localhost name to the loopback address without asking DNS.
  const std::string name = "artana-test.localhost:" + std::to_string(server.port());
  host::HostOptions options = allowing(server);
  options.http_allow = {name};  // the name, not its address
  HostFixture f(options);
  const std::string path = f.script("fetch.lua", kFetch);
  Json request = Json::object(
      {{"request", Json::object({{"url", "http://" + name + "/"}, {"method", "GET"}})}});
  host::RunOutcome refused = f.run(path, "run-internal", request, with_caps({"net:http"}));
  REQUIRE(refused.status == RunStatus::kCompleted);
  INFO(text(refused.output));
  CHECK(refused.output.find("error")->as_string() == "policy_violation");
  CHECK(refused.output.find("message")->as_string().find("127.0.0.1") != std::string::npos);
  CHECK(server.request_count() == 0);
}

TEST_CASE("run:http ignores the proxy the environment names", "[http]") {
  HttpTestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.body = "direct";
    return reply;
  });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);
  // A proxy nothing listens on: a request through it would fail.
  const char* names[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"};
  for (const char* name : names) ::setenv(name, "http://127.0.0.1:9/", 1);
  host::RunOutcome done =
      f.run(path, "run-proxy", request_for(server, "/"), with_caps({"net:http"}));
  for (const char* name : names) ::unsetenv(name);
  INFO(text(done.output));
  REQUIRE(done.status == RunStatus::kCompleted);
  CHECK(done.output.find("body")->as_string() == "direct");
  CHECK(server.request_count() == 1);
}

TEST_CASE("run:http bodies: base64 when not UTF-8, cut at 1 MiB", "[http]") {
  HttpTestServer server([](const HttpRequest& request) {
    HttpReply reply;
    reply.body = request.target == "/bin" ? std::string("\xff\xfe\x00\x01", 4)
                                          : std::string((1 << 20) + 100, 'z');
    return reply;
  });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);
  host::RunOutcome bin =
      f.run(path, "run-bin", request_for(server, "/bin"), with_caps({"net:http"}));
  REQUIRE(bin.status == RunStatus::kCompleted);
  CHECK(bin.output.find("body_base64")->as_string() == "//4AAQ==");
  CHECK(bin.output.find("body") == nullptr);
  host::RunOutcome big =
      f.run(path, "run-big", request_for(server, "/big"), with_caps({"net:http"}));
  REQUIRE(big.status == RunStatus::kCompleted);
  CHECK(big.output.find("truncated")->as_bool());
  CHECK(big.output.find("body")->as_string().size() == size_t{1} << 20);
}

TEST_CASE("a POST that fails after it was sent is an unknown outcome, a GET a transient failure",
          "[http]") {
  HttpTestServer server([](const HttpRequest&) {
    HttpReply reply;
    reply.body = "never whole";
    reply.cut_after_bytes = 2;
    return reply;
  });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);
  host::RunOutcome get =
      f.run(path, "run-cut-get", request_for(server, "/"), with_caps({"net:http"}));
  REQUIRE(get.status == RunStatus::kCompleted);
  CHECK(get.output.find("error")->as_string() == "tool_failed");

  host::RunOutcome post =
      f.run(path, "run-cut-post", request_for(server, "/", "POST"), with_caps({"net:http"}));
  INFO(text(post.output) << text(post.error));
  CHECK(post.status == RunStatus::kNeedsAttention);
  bool unknown = false;
  for (const kernel::Event& event : f.events("run-cut-post")) {
    if (event.type == "tool_completed") {
      unknown = event.payload.find("outcome")->as_string() == "unknown_outcome";
    }
  }
  CHECK(unknown);
}

TEST_CASE("run:http refuses bad arguments naming the field, and artana.* tool names are reserved",
          "[http]") {
  HttpTestServer server([](const HttpRequest&) { return HttpReply{}; });
  HostFixture f(allowing(server));
  const std::string path = f.script("fetch.lua", kFetch);
  auto refused = [&](const std::string& id, Json request, const std::string& says) {
    host::RunOutcome out =
        f.run(path, id, Json::object({{"request", std::move(request)}}), with_caps({"net:http"}));
    INFO(id << ": " << text(out.output));
    CHECK(out.output.find("error")->as_string() == "invalid_argument");
    CHECK(out.output.find("message")->as_string().find(says) != std::string::npos);
  };
  refused("bad-method", Json::object({{"url", server.url("/")}, {"method", "FETCH"}}), "method");
  refused("bad-url", Json::object({{"url", "ftp://127.0.0.1/"}, {"method", "GET"}}), "url");
  refused("bad-header",
          Json::object({{"url", server.url("/")},
                        {"method", "GET"},
                        {"headers", Json::object({{"X-A", "one\r\nX-B: two"}})}}),
          "CR, LF");
  refused("bad-timeout", Json::object({{"url", server.url("/")}, {"timeout_s", 0}}), "timeout_s");
  CHECK(server.request_count() == 0);

  host::RunOutcome reserved = f.run(f.script("reserved.lua", R"lua(
local artana = require "artana"
artana.tool { name = "artana.http", fn = function() end }
return function() end
)lua"),
                                    "run-reserved");
  CHECK(reserved.status == RunStatus::kFailed);
  CHECK(text(reserved.error).find("built-ins") != std::string::npos);
}

}  // namespace artana::testing
