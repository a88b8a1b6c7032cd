// run:exec: a built-in tool step running real programs from the I/O thread — output, exit
// codes, the environment it gets, its directory kept inside the workspace, timeouts that
// end children ignoring SIGTERM, floods, and children that outlive their parent.
#include <catch2/catch.hpp>

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "host/host_fixture.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

const char kExec[] = R"lua(
return function(run, input)
  local ok, r = pcall(run.exec, run, input.request)
  if not ok then return { error = r.kind, message = r.message } end
  return r
end
)lua";

host::RunOptions exec_caps(std::vector<std::string> caps = {"exec:run"}) {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = std::move(caps);
  return options;
}

Json shell(const std::string& command, double timeout_s = 20) {
  return Json::object(
      {{"request", Json::object({{"argv", Json::array({Json("sh"), Json("-c"), Json(command)})},
                                 {"timeout_s", timeout_s}})}});
}

struct ExecFixture {
  TempDir workspace;
  HostFixture f;
  std::string path;
  ExecFixture() : f(options(workspace)) { path = f.script("exec.lua", kExec); }
  static host::HostOptions options(const TempDir& dir) {
    host::HostOptions o;
    o.workspace = dir.str();
    return o;
  }
  host::RunOutcome run(const std::string& id, Json input, host::RunOptions caps = exec_caps()) {
    host::RunOutcome out = f.run(path, id, std::move(input), std::move(caps));
    INFO(text(out.output) << " " << text(out.error));
    REQUIRE(out.status == RunStatus::kCompleted);
    return out;
  }
};

}  // namespace

TEST_CASE("run:exec runs a program in the workspace and records its output once", "[exec]") {
  ExecFixture x;
  const Json input = shell("echo ran >> count; echo hi; echo err >&2; exit 3");
  host::RunOutcome done = x.run("run-exec", input);
  CHECK(done.output.find("exit_code")->as_integer() == 3);
  CHECK(done.output.find("stdout")->as_string() == "hi\n");
  CHECK(done.output.find("stderr")->as_string() == "err\n");
  CHECK(done.output.find("timed_out")->as_bool() == false);
  CHECK(done.output.find("truncated")->as_bool() == false);
  bool recorded = false;
  for (const kernel::Event& event : x.f.events("run-exec")) {
    if (event.type != "tool_requested") continue;
    recorded = event.payload.find("tool")->as_string() == "artana.exec" &&
               event.payload.find("step_key")->as_string() == "exec:1";
  }
  CHECK(recorded);
  // Another process, no workspace configured: replayed, not run again.
  x.f.restart();
  host::RunOutcome again = x.f.run(x.path, "run-exec", input, exec_caps());
  REQUIRE(again.status == RunStatus::kCompleted);
  CHECK(text(again.output) == text(done.output));
  std::ifstream count(x.workspace.path() / "count");
  std::string lines((std::istreambuf_iterator<char>(count)), std::istreambuf_iterator<char>());
  CHECK(lines == "ran\n");
}

TEST_CASE("run:exec gets PATH, HOME, LANG and its env, and runs in its cwd inside the workspace",
          "[exec]") {
  ExecFixture x;
  ::setenv("ARTANA_MUST_NOT_LEAK", "1", 1);
  std::filesystem::create_directory(x.workspace.path() / "sub");
  Json input = shell("env; pwd");
  input.find("request")->set("env", Json::object({{"GREETING", "hello"}}));
  input.find("request")->set("cwd", "sub");
  host::RunOutcome done = x.run("run-env", input);
  const std::string out = done.output.find("stdout")->as_string();
  CHECK(out.find("GREETING=hello") != std::string::npos);
  CHECK(out.find("PATH=") != std::string::npos);
  CHECK(out.find("ARTANA_MUST_NOT_LEAK") == std::string::npos);
  CHECK(out.find(std::filesystem::canonical(x.workspace.path() / "sub").string()) !=
        std::string::npos);
  ::unsetenv("ARTANA_MUST_NOT_LEAK");
}

TEST_CASE("run:exec refuses a cwd that leaves the workspace, nothing recorded", "[exec]") {
  ExecFixture x;
  TempDir outside;
  std::filesystem::create_directory_symlink(outside.path(), x.workspace.path() / "link");
  int n = 0;
  for (const std::string& cwd :
       {std::string(".."), outside.str(), std::string("link"), std::string("sub/../../x")}) {
    Json input = shell("pwd");
    input.find("request")->set("cwd", cwd);
    const std::string id = "run-escape-" + std::to_string(n++);
    host::RunOutcome out = x.run(id, input);
    INFO(cwd);
    CHECK(out.output.find("error")->as_string() == "sandbox_violation");
    CHECK(x.f.count(id, "tool_requested") == 0);
  }
}

TEST_CASE("run:exec needs exec:run in every mode and a workspace", "[exec]") {
  ExecFixture x;
  host::RunOutcome denied = x.run("run-nocap", shell("true"), exec_caps({}));
  CHECK(denied.output.find("error")->as_string() == "capability_denied");
  CHECK(denied.output.find("message")->as_string().find("exec:run") != std::string::npos);
  HostFixture bare;
  host::RunOutcome none =
      bare.run(bare.script("exec.lua", kExec), "run-nows", shell("true"), exec_caps());
  CHECK(none.output.find("error")->as_string() == "policy_violation");
  CHECK(none.output.find("message")->as_string().find("--workspace") != std::string::npos);
  CHECK(bare.count("run-nows", "tool_requested") == 0);
  host::RunOutcome missing =
      x.run("run-missing",
            Json::object(
                {{"request", Json::object({{"argv", Json::array({Json("no-such-program-x")})}})}}));
  CHECK(missing.output.find("error")->as_string() == "tool_failed");
  CHECK(missing.output.find("message")->as_string().find("no-such-program-x") != std::string::npos);
}

TEST_CASE("run:exec's bad arguments are invalid_argument naming the field, nothing recorded",
          "[exec]") {
  ExecFixture x;
  const std::vector<std::pair<Json, std::string>> cases = {
      {Json::object({{"argv", "ls"}}), "argv"},
      {Json::object({{"argv", Json::array()}}), "argv"},
      {Json::object({{"argv", Json::array({Json("ls")})}, {"timeout_s", "soon"}}), "timeout_s"},
      {Json::object({{"argv", Json::array({Json("ls")})}, {"env", Json::array({Json("A=1")})}}),
       "env"},
      {Json::object({{"argv", Json::array({Json("ls")})}, {"cwd", 7}}), "cwd"},
  };
  int n = 0;
  for (const auto& [request, field] : cases) {
    const std::string id = "run-bad-" + std::to_string(n++);
    host::RunOutcome out = x.run(id, Json::object({{"request", request}}));
    INFO(text(request) << ": " << text(out.output));
    CHECK(out.output.find("error")->as_string() == "invalid_argument");
    CHECK(out.output.find("message")->as_string().find(field) != std::string::npos);
    CHECK(x.f.count(id, "tool_requested") == 0);
  }
}

TEST_CASE("run:exec's timeout ends a program ignoring SIGTERM, its whole group", "[exec]") {
  ExecFixture x;
  const auto start = std::chrono::steady_clock::now();
  host::RunOutcome done =
      x.run("run-ignores-term", shell("trap '' TERM; echo waiting; sleep 30; echo never", 0.3));
  CHECK(done.output.find("timed_out")->as_bool());
  CHECK(done.output.find("signal")->as_integer() == 9);
  CHECK(done.output.find("stdout")->as_string() == "waiting\n");
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(15));

  // A grandchild in the group, ignoring SIGTERM too, goes with it (SIGKILL to the group).
  host::RunOutcome group =
      x.run("run-group", shell("trap '' TERM; sh -c \"trap '' TERM; sleep 30\" & echo $! > gc.pid; "
                               "echo started; wait",
                               0.3));
  CHECK(group.output.find("timed_out")->as_bool());
  std::ifstream pid_file(x.workspace.path() / "gc.pid");
  pid_t grandchild = 0;
  REQUIRE(pid_file >> grandchild);
  REQUIRE(grandchild > 1);
  // Waited for through a pidfd (readable once the process has ended), at most 10 s: without
  // the group kill it would sleep its 30 s.
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, grandchild, 0));
  if (fd >= 0) {
    pollfd ended{fd, POLLIN, 0};
    CHECK(::poll(&ended, 1, 10'000) == 1);
    ::close(fd);
  } else {
    CHECK(errno == ESRCH);  // already gone and reaped
  }
}

TEST_CASE("run:exec keeps 64 KiB of a flood, and does not wait for a child left behind", "[exec]") {
  ExecFixture x;
  host::RunOutcome flood = x.run("run-flood", shell("head -c 3000000 /dev/zero | tr '\\0' a"));
  CHECK(flood.output.find("truncated")->as_bool());
  CHECK(flood.output.find("stdout")->as_string().size() == 65536);
  CHECK(flood.output.find("exit_code")->as_integer() == 0);

  const auto start = std::chrono::steady_clock::now();
  host::RunOutcome left = x.run("run-orphan", shell("sleep 30 & echo started"));
  CHECK(left.output.find("stdout")->as_string() == "started\n");
  CHECK(left.output.find("exit_code")->as_integer() == 0);
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(10));
}

}  // namespace artana::testing
