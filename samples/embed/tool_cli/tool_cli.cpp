// tool_cli: a command-line tool embedding Artana Host through artana.hpp (C++17).
//
//   tool_cli --workspace DIR [--script FILE] [--input JSON] [--run-id ID] [--data-dir DIR]
//
// Registers one native tool, `count_words {path}`, that counts the words of a file inside
// the workspace, runs a script (FILE, or the built-in one: the words of each of
// input.paths), and prints the run's output as JSON. Run again with the same --run-id, the
// run replays from its ledger: the same output, and count_words is not called again (the
// calls made are told on stderr).
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

#include "artana/artana.hpp"

namespace fs = std::filesystem;

namespace {

// The words of input.paths, one count_words step each.
const char kBuiltinScript[] = R"lua(
return function(run, input)
  local counts, total = {}, 0
  for i, path in ipairs(input.paths or {}) do
    local counted = run:tool("count_words", { path = path }).result
    counts[i] = counted
    total = total + counted.words
  end
  return { files = counts, total = total }
end
)lua";

const char kSpec[] = R"({"name":"count_words",
  "description":"Counts the whitespace-separated words of a file in the workspace",
  "args":{"type":"object","properties":{"path":{"type":"string"}},"required":["path"],
          "additionalProperties":false},
  "version":"1","capability":"","side_effect":false})";

struct Flags {
  std::string workspace, script, input = R"({"paths":[]})", run_id, data_dir = ".artana";
};

int usage(const char* problem) {
  std::fprintf(stderr,
               "tool_cli: %s\nusage: tool_cli --workspace DIR [--script FILE] [--input JSON] "
               "[--run-id ID] [--data-dir DIR]\n",
               problem);
  return 2;
}

std::string json_string(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// The "path" member of the tool's arguments: canonical JSON, validated against the spec by
// the host, so one string member. Escapes other than \" and \\ are refused.
std::optional<std::string> path_argument(std::string_view args) {
  const std::string_view key = "\"path\":\"";
  const size_t at = args.find(key);
  if (at == std::string_view::npos) return std::nullopt;
  std::string path;
  for (size_t i = at + key.size(); i < args.size(); ++i) {
    if (args[i] == '"') return path;
    if (args[i] == '\\') {
      if (++i >= args.size() || (args[i] != '"' && args[i] != '\\')) return std::nullopt;
    }
    path += args[i];
  }
  return std::nullopt;
}

// A file of the workspace, or nothing when `relative` leaves it (.., an absolute path, a link
// pointing out).
std::optional<fs::path> inside(const fs::path& workspace, const std::string& relative) {
  if (relative.empty() || fs::path(relative).is_absolute()) return std::nullopt;
  std::error_code ec;
  const fs::path resolved = fs::weakly_canonical(workspace / relative, ec);
  if (ec) return std::nullopt;
  const std::string base = workspace.string() + "/";
  if (resolved.string().compare(0, base.size(), base) != 0) return std::nullopt;
  return resolved;
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) return usage(("a value is missing after " + std::string(flag)).c_str());
    const std::string value = argv[++i];
    if (flag == "--workspace") {
      flags.workspace = value;
    } else if (flag == "--script") {
      flags.script = value;
    } else if (flag == "--input") {
      flags.input = value;
    } else if (flag == "--run-id") {
      flags.run_id = value;
    } else if (flag == "--data-dir") {
      flags.data_dir = value;
    } else {
      return usage(("unknown flag " + std::string(flag)).c_str());
    }
  }
  if (flags.workspace.empty()) return usage("--workspace is required");
  std::error_code ec;
  const fs::path workspace = fs::canonical(flags.workspace, ec);
  if (ec || !fs::is_directory(workspace)) return usage("--workspace is not a directory");

  auto host = artana::Host::create({{"data_dir", flags.data_dir}});
  if (!host) {
    std::fprintf(stderr, "tool_cli: %s\n", host.error().message.c_str());
    return 1;
  }
  int calls = 0;
  auto registered = host->tool(kSpec, [&](const artana::Call& call, artana::Completion done) {
    ++calls;
    const std::optional<std::string> path = path_argument(call.json);
    const std::optional<fs::path> file = path ? inside(workspace, *path) : std::nullopt;
    std::ifstream in;
    if (file) in.open(*file);
    if (!file || !in) {
      (void)done.error(ARTANA_FAIL_PERMANENT, "count_words: no readable file " +
                                                  (path ? *path : std::string("?")) +
                                                  " in the workspace");
      return;
    }
    size_t words = 0;
    for (std::string word; in >> word;) ++words;
    (void)done.ok("{\"path\":" + json_string(*path) + ",\"words\":" + std::to_string(words) + "}");
  });
  if (!registered) {
    std::fprintf(stderr, "tool_cli: %s\n", registered.error().message.c_str());
    return 1;
  }

  auto script = flags.script.empty() ? host->load_memory("count_words", kBuiltinScript)
                                     : host->load_file(flags.script);
  if (!script) {
    std::fprintf(stderr, "tool_cli: %s\n", script.error().message.c_str());
    return 1;
  }
  const std::string options =
      flags.run_id.empty() ? "{}" : "{\"run_id\":" + json_string(flags.run_id) + "}";
  auto run = host->start(*script, flags.input, options);
  if (!run) {
    std::fprintf(stderr, "tool_cli: %s\n", run.error().message.c_str());
    return 1;
  }
  auto idle = host->run_until_idle(-1);
  auto status = run->status();
  std::fprintf(stderr, "tool_cli: run %s %s; count_words called %d time%s\n", run->id().c_str(),
               status ? status->c_str() : "unknown", calls, calls == 1 ? "" : "s");
  if (!idle || !status || *status != "completed") {
    auto error = run->error();
    std::fprintf(stderr, "tool_cli: %s\n",
                 error ? error->c_str() : (idle ? "" : idle.error().message.c_str()));
    return 1;
  }
  std::printf("%s\n", run->output()->c_str());
  return 0;
}
