// run:read_file and run:write_file: built-in tool steps on the workspace (or the script's
// folder), with their capabilities in every mode and every way out of the root refused.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "artana/kernel/sha256.h"
#include "host/host_fixture.h"
#include "support/temp_dir.h"

namespace artana::testing {
namespace {

using kernel::Json;
using kernel::RunStatus;

host::RunOptions caps(std::vector<std::string> list) {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId("acme");
  options.tenant.capabilities = std::move(list);
  return options;
}

const char kFiles[] = R"lua(
return function(run, input)
  local ok, r = pcall(function()
    if input.write then return run:write_file(input.path, input.write) end
    return run:read_file(input.path, input.root and { root = input.root } or nil)
  end)
  if not ok then return { error = r.kind, message = r.message } end
  return r
end
)lua";

std::string slurp(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

TEST_CASE("run:write_file writes atomically in the workspace and run:read_file reads it back",
          "[files]") {
  TempDir workspace;
  host::HostOptions options;
  options.workspace = workspace.str();
  HostFixture f(options);
  const std::string path = f.script("files.lua", kFiles);
  const auto rw = caps({"workspace:read", "workspace:write"});
  host::RunOutcome wrote =
      f.run(path, "run-w", Json::object({{"path", "a.txt"}, {"write", "hello\n"}}), rw);
  INFO(text(wrote.output) << text(wrote.error));
  REQUIRE(wrote.status == RunStatus::kCompleted);
  CHECK(wrote.output.find("bytes")->as_integer() == 6);
  CHECK(slurp(workspace.path() / "a.txt") == "hello\n");
  CHECK(f.count("run-w", "tool_requested") == 1);

  host::RunOutcome read = f.run(path, "run-r", Json::object({{"path", "a.txt"}}), rw);
  CHECK(read.output.find("exists")->as_bool());
  CHECK(read.output.find("text")->as_string() == "hello\n");
  CHECK(read.output.find("sha256")->as_string() == kernel::Sha256::of("hello\n").hex());
  host::RunOutcome missing = f.run(path, "run-m", Json::object({{"path", "none.txt"}}), rw);
  CHECK(missing.output.find("exists")->as_bool() == false);

  // Changed on disk, the run replays what it read; the write is not done again.
  std::ofstream(workspace.path() / "a.txt") << "changed";
  f.restart();
  host::RunOutcome replayed = f.run(path, "run-r", Json::object({{"path", "a.txt"}}), rw);
  CHECK(replayed.output.find("text")->as_string() == "hello\n");
  host::RunOutcome rewrote =
      f.run(path, "run-w", Json::object({{"path", "a.txt"}, {"write", "hello\n"}}), rw);
  CHECK(rewrote.status == RunStatus::kCompleted);
  CHECK(slurp(workspace.path() / "a.txt") == "changed");
}

TEST_CASE("file tools' bad arguments are invalid_argument naming the field, nothing recorded",
          "[files]") {
  TempDir workspace;
  host::HostOptions options;
  options.workspace = workspace.str();
  HostFixture f(options);
  const std::string path = f.script("bad.lua", R"lua(
return function(run, input)
  local ok, r = pcall(function()
    if input.case == 1 then return run:read_file(42) end
    if input.case == 2 then return run:write_file("a.txt", 5) end
    if input.case == 3 then return run:read_file("a.txt", { root = "elsewhere" }) end
    return run:write_file("", "x")
  end)
  if ok then return { error = "none" } end
  return { error = r.kind, message = r.message }
end
)lua");
  const std::pair<int, std::string> cases[] = {{1, "path"}, {2, "text"}, {3, "root"}, {4, "path"}};
  for (const auto& [n, field] : cases) {
    const std::string id = "run-badf-" + std::to_string(n);
    host::RunOutcome out =
        f.run(path, id, Json::object({{"case", n}}), caps({"workspace:read", "workspace:write"}));
    INFO(n << ": " << text(out.output));
    CHECK(out.output.find("error")->as_string() == "invalid_argument");
    CHECK(out.output.find("message")->as_string().find(field) != std::string::npos);
    CHECK(f.count(id, "tool_requested") == 0);
  }
}

TEST_CASE("run:read_file reads the script's folder with no capability", "[files]") {
  HostFixture f;
  const std::string path = f.script("files.lua", kFiles);
  f.script("data.txt", "beside the script");
  host::RunOutcome read =
      f.run(path, "run-s", Json::object({{"path", "data.txt"}, {"root", "script"}}), caps({}));
  INFO(text(read.output));
  CHECK(read.output.find("text")->as_string() == "beside the script");
  host::RunOutcome workspace =
      f.run(path, "run-nows", Json::object({{"path", "data.txt"}}), caps({"workspace:read"}));
  CHECK(workspace.output.find("error")->as_string() == "policy_violation");

  // Every way out of the script's folder is refused too, nothing recorded.
  TempDir outside;
  std::ofstream(outside.path() / "secret.txt") << "outside";
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  std::filesystem::create_symlink(outside.path() / "secret.txt", folder / "link.txt");
  int n = 0;
  for (const std::string& escape : {std::string("../x"), (outside.path() / "secret.txt").string(),
                                    std::string("link.txt"), std::string("a/../../x")}) {
    const std::string id = "run-se" + std::to_string(n++);
    host::RunOutcome out =
        f.run(path, id, Json::object({{"path", escape}, {"root", "script"}}), caps({}));
    INFO(escape << ": " << text(out.output));
    CHECK(out.output.find("error")->as_string() == "sandbox_violation");
    CHECK(f.count(id, "tool_requested") == 0);
  }
}

TEST_CASE("file tools need their capabilities and refuse every way out of the root", "[files]") {
  TempDir workspace, outside;
  std::ofstream(outside.path() / "secret.txt") << "outside";
  std::filesystem::create_symlink(outside.path() / "secret.txt", workspace.path() / "link.txt");
  std::filesystem::create_directory_symlink(outside.path(), workspace.path() / "dir");
  host::HostOptions options;
  options.workspace = workspace.str();
  HostFixture f(options);
  const std::string path = f.script("files.lua", kFiles);
  const auto rw = caps({"workspace:read", "workspace:write"});

  host::RunOutcome no_read = f.run(path, "run-c1", Json::object({{"path", "a"}}), caps({}));
  CHECK(no_read.output.find("error")->as_string() == "capability_denied");
  CHECK(f.count("run-c1", "tool_requested") == 0);
  host::RunOutcome no_write = f.run(path, "run-c2", Json::object({{"path", "a"}, {"write", "x"}}),
                                    caps({"workspace:read"}));
  CHECK(no_write.output.find("error")->as_string() == "capability_denied");
  CHECK(f.count("run-c2", "tool_requested") == 0);
  CHECK_FALSE(std::filesystem::exists(workspace.path() / "a"));

  int n = 0;
  for (const std::string& escape :
       {std::string("../x"), (outside.path() / "secret.txt").string(), std::string("link.txt"),
        std::string("dir/secret.txt"), std::string("a/../../x")}) {
    for (bool write : {false, true}) {
      const std::string id = "run-e" + std::to_string(n++);
      Json input = Json::object({{"path", escape}});
      if (write) input.set("write", "overwritten");
      host::RunOutcome out = f.run(path, id, input, rw);
      INFO(escape << " write " << write << ": " << text(out.output));
      CHECK(out.output.find("error")->as_string() == "sandbox_violation");
      CHECK(f.count(id, "tool_requested") == 0);
    }
  }
  CHECK(slurp(outside.path() / "secret.txt") == "outside");
}

}  // namespace artana::testing
