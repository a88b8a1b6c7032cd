// What the tests of artana.agent share (agent_*_test.cc): a ports module whose Lua model
// ports print every request they receive and answer from a list, a HostFixture with it and
// the stdlib, and readers of what the ports printed and the runs recorded.
#pragma once

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "stdlib/stdlib_fixture.h"

namespace artana::testing {

using kernel::Json;
using kernel::RunStatus;

using kernel::Json;
using kernel::RunStatus;

// A module the test scripts require: ports that print each request as
// `<port> request: {"messages": ..., "tools": [names], "schema": ...}` and answer from a list
// (the last answer repeats; an answer may be a function of the request).
inline const char kPorts[] = R"lua(
local artana = require "artana"
local M = {}
function M.scripted(name, answers)
  local n = 0
  artana.model_port(name, function(req)
    n = n + 1
    local tools = {}
    for i, tool in ipairs(req.tools) do tools[i] = tool.name end
    print(name .. " request: " .. artana.canonical_json { messages = req.messages,
      tools = artana.array(tools), schema = req.schema })
    local answer = answers[math.min(n, #answers)]
    if type(answer) == "function" then answer = answer(req, n) end
    return answer
  end)
end
return M
)lua";

// HostFixture with the stdlib and the ports module beside its scripts.
struct AgentFixture : HostFixture {
  explicit AgentFixture(host::HostOptions options = {})
      : HostFixture(stdlib_options(std::move(options))) {
    script("agent_ports.lua", kPorts);
  }
};

// The requests port `port` printed, in order.
inline std::vector<Json> requests(const HostFixture& f, const std::string& port) {
  std::vector<Json> out;
  const std::string prefix = port + " request: ";
  for (const std::string& line : f.printed) {
    if (line.rfind(prefix, 0) != 0) continue;
    auto parsed = kernel::parse_json(line.substr(prefix.size()));
    REQUIRE(parsed.ok());
    out.push_back(std::move(*parsed));
  }
  return out;
}

inline size_t printed(const HostFixture& f, const std::string& line) {
  return static_cast<size_t>(std::count(f.printed.begin(), f.printed.end(), line));
}

inline const Json::Array& messages(const Json& request) {
  return request.find("messages")->as_array();
}

inline std::string content(const Json& request, size_t i) {
  return messages(request).at(i).find("content")->as_string();
}

inline std::string last_content(const Json& request) {
  return messages(request).back().find("content")->as_string();
}

inline std::string tools(const Json& request) { return text(*request.find("tools")); }

inline std::vector<Json> summary_values(HostFixture& f, const std::string& run,
                                        const std::string& kind) {
  std::vector<Json> out;
  for (const kernel::Event& e : summaries_of(f, run, kind)) out.push_back(*e.payload.find("value"));
  return out;
}

// The step keys of the events of `type`, in order.
inline std::vector<std::string> step_keys(HostFixture& f, const std::string& run,
                                          const std::string& type) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run)) {
    const Json* key = e.payload.find("step_key");
    if (e.type == type && key != nullptr) out.push_back(key->as_string());
  }
  return out;
}

// The tool names of the run's tool_requested events, in order.
inline std::vector<std::string> tools_requested(HostFixture& f, const std::string& run) {
  std::vector<std::string> out;
  for (const kernel::Event& e : f.events(run))
    if (e.type == "tool_requested") out.push_back(e.payload.find("tool")->as_string());
  return out;
}

inline host::RunOutcome completed(host::RunOutcome outcome) {
  INFO(text(outcome.error));
  REQUIRE(outcome.status == RunStatus::kCompleted);
  return outcome;
}

inline host::RunOptions with_caps(std::vector<std::string> caps, const char* tenant = "acme") {
  host::RunOptions options;
  options.tenant.tenant_id = kernel::TenantId(tenant);
  options.tenant.capabilities = std::move(caps);
  return options;
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

// ---- the loop and its tool calls ----

}  // namespace artana::testing
