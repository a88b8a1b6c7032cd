#include "artana/host/outside_settings.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "artana/lua/lua_state.h"
#include "http_allow.h"

namespace artana::host {

std::vector<std::string> split_list(std::string_view text) {
  std::vector<std::string> items;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    std::string_view item = text.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
    if (!item.empty()) items.emplace_back(item);
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return items;
}

Result<std::string> workspace_setting(std::string_view what, const std::string& dir) {
  std::error_code ec;
  if (dir.empty() || !std::filesystem::is_directory(dir, ec))
    return Status::invalid_argument("{}: '{}' is not a directory", what, dir);
  return std::filesystem::absolute(dir, ec).lexically_normal().string();
}

Result<std::vector<std::string>> http_allow_setting(std::string_view what, std::string_view list) {
  std::vector<std::string> hosts = split_list(list);
  if (auto allow = io::HttpAllowList::parse(hosts); !allow.ok())
    return Status::invalid_argument("{}: {}", what, allow.status().message());
  return hosts;
}

Result<std::vector<std::string>> secret_env_setting(std::string_view what, std::string_view list) {
  std::vector<std::string> names = split_list(list);
  for (const std::string& name : names) {
    const bool named = !std::isdigit(static_cast<unsigned char>(name[0])) &&
                       std::all_of(name.begin(), name.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                       });
    if (!named) return Status::invalid_argument("{}: '{}' is not a variable name", what, name);
  }
  return names;
}

// The file is code: it runs in the same sandbox as a script (no io, os, require), with small
// limits, and must return its table.
Result<ModelEndpoints> endpoints_from_file(std::string_view what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::invalid_argument("{}: cannot read '{}'", what, path);
  std::ostringstream text;
  text << in.rdbuf();
  lua::LuaLimits limits;
  limits.max_memory_bytes = size_t{64} << 20;
  limits.max_instructions = 10'000'000;
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<lua::LuaState> lua, lua::LuaState::create(limits));
  kernel::Json table;
  Status ran = lua->run_chunk(text.str(), path, &table);
  if (!ran.ok()) return Status::invalid_argument("{}: {}", what, ran.message());
  Result<ModelEndpoints> parsed = parse_model_endpoints(table, path);
  if (!parsed.ok()) return Status::invalid_argument("{}: {}", what, parsed.status().message());
  return parsed;
}

}  // namespace artana::host
