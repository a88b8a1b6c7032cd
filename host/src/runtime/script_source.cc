#include "script_source.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/sha256.h"

namespace artana::host {
namespace {

namespace fs = std::filesystem;
using kernel::Json;

constexpr size_t kMaxSourceBytes = 16u << 20;

Result<std::string> read_file(const std::string& path) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  if (ec) {
    if (ec == std::errc::no_such_file_or_directory)
      return Status::not_found("script '{}' does not exist", path);
    return Status::invalid_argument("cannot read script '{}': {}", path, ec.message());
  }
  if (size > kMaxSourceBytes)
    return Status::invalid_argument("script '{}' is {} bytes; the limit is {}", path, size,
                                    kMaxSourceBytes);
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return Status::invalid_argument("cannot open script '{}': {}", path, std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) return Status::invalid_argument("cannot read script '{}'", path);
  return text.str();
}

// Module names are dot-separated identifiers: "util", "lib.text".
bool valid_module_name(std::string_view name) {
  if (name.empty() || name.size() > 200) return false;
  bool segment_start = true;
  for (char c : name) {
    if (c == '.') {
      if (segment_start) return false;
      segment_start = true;
      continue;
    }
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                    (!segment_start && c >= '0' && c <= '9');
    if (!ok) return false;
    segment_start = false;
  }
  return !segment_start;
}

std::string dots_to_path(std::string_view name) {
  std::string path(name);
  for (char& c : path)
    if (c == '.') c = '/';
  return path + ".lua";
}

}  // namespace

Result<ScriptSource> ScriptSource::from_file(const std::string& path, std::string stdlib_dir) {
  ScriptSource source;
  std::error_code ec;
  const fs::path absolute = fs::absolute(path, ec);
  if (ec) return Status::invalid_argument("bad script path '{}': {}", path, ec.message());
  ARTANA_ASSIGN_OR_RETURN(std::string text, read_file(absolute.string()));
  source.entry_path_ = absolute.lexically_normal().string();
  source.folder_ = absolute.parent_path().string();
  source.stdlib_dir_ = std::move(stdlib_dir);
  source.entry_.chunkname = absolute.filename().string();
  source.entry_.sha256 = kernel::Sha256::of(text).hex();
  source.entry_.text = std::move(text);
  return source;
}

ScriptSource ScriptSource::from_memory(const std::string& name, std::string text,
                                       std::string sha256, std::string stdlib_dir) {
  ScriptSource source;
  source.entry_path_ = std::string(kMemoryPrefix) + name;
  source.stdlib_dir_ = std::move(stdlib_dir);
  source.entry_.chunkname = name;
  source.entry_.sha256 = std::move(sha256);
  source.entry_.text = std::move(text);
  return source;
}

Result<ScriptSource> ScriptSource::pinned(const Json& identity, BlobReader read) {
  const Json* entry = identity.find("entry");
  const Json* path = entry != nullptr ? entry->find("path") : nullptr;
  const Json* hash = entry != nullptr ? entry->find("sha256") : nullptr;
  if (path == nullptr || !path->is_string() || hash == nullptr || !hash->is_string())
    return Status::failed_precondition("the run recorded no script identity to pin to");
  ScriptSource source;
  source.entry_path_ = path->as_string();
  if (std::string_view(source.entry_path_).starts_with(kMemoryPrefix)) {
    source.entry_.chunkname = source.entry_path_.substr(kMemoryPrefix.size());  // no folder
  } else {
    const fs::path entry_path(source.entry_path_);
    source.folder_ = entry_path.parent_path().string();
    source.entry_.chunkname = entry_path.filename().string();
  }
  ARTANA_ASSIGN_OR_RETURN(std::optional<std::string> text, read(hash->as_string()));
  if (!text)
    return Status::not_found("the run's script {} (sha256 {}) is not in the ledger's sources",
                             source.entry_path_, hash->as_string());
  source.entry_.text = std::move(*text);
  source.entry_.sha256 = hash->as_string();
  if (const Json* modules = identity.find("modules"); modules != nullptr && modules->is_object()) {
    for (const auto& [name, sha] : modules->as_object())
      if (sha.is_string()) source.pinned_modules_[name] = sha.as_string();
  }
  source.pinned_reader_ = std::move(read);
  return source;
}

Result<SourceFile> ScriptSource::read_module(std::string_view name) {
  if (!valid_module_name(name))
    return Status::invalid_argument(
        "require '{}': a module name is dot-separated identifiers (\"util\", \"lib.text\")", name);
  std::string path;
  SourceFile file;
  if (pinned_reader_) {
    auto it = pinned_modules_.find(std::string(name));
    if (it == pinned_modules_.end())
      return Status::not_found("require '{}': the pinned code never required this module", name);
    ARTANA_ASSIGN_OR_RETURN(std::optional<std::string> text, pinned_reader_(it->second));
    if (!text)
      return Status::not_found("require '{}': source {} is not in the ledger", name, it->second);
    file.chunkname = dots_to_path(name);
    file.text = std::move(*text);
    file.sha256 = it->second;
    module_hashes_[std::string(name)] = file.sha256;
    return file;
  }
  constexpr std::string_view kStdlib = "artana.";
  if (name.substr(0, kStdlib.size()) == kStdlib) {
    if (stdlib_dir_.empty())
      return Status::not_found("require '{}': this host has no stdlib directory", name);
    file.chunkname = "artana/" + dots_to_path(name.substr(kStdlib.size()));
    path = stdlib_dir_ + "/" + dots_to_path(name.substr(kStdlib.size()));
  } else {
    if (app_modules_) {
      auto text = app_modules_(name);
      if (!text.ok())
        return Status::not_found("require '{}': the application's module loader failed: {}", name,
                                 text.status().message());
      if (*text) {
        if (text->value().size() > kMaxSourceBytes)
          return Status::invalid_argument(
              "require '{}': the application's module is {} bytes; the limit is {}", name,
              text->value().size(), kMaxSourceBytes);
        file.chunkname = "app:" + dots_to_path(name);
        file.text = std::move(**text);
        file.sha256 = kernel::Sha256::of(file.text).hex();
        module_hashes_[std::string(name)] = file.sha256;
        return file;
      }
    }
    if (folder_.empty()) {
      return Status::not_found(
          "require '{}': script '{}' was loaded from memory; it may require only the artana.* "
          "modules and the application's (its module loader has none by that name)",
          name, entry_path_);
    }
    file.chunkname = dots_to_path(name);
    path = folder_ + "/" + file.chunkname;
  }
  auto text = read_file(path);
  if (!text.ok()) {
    if (text.status().code() == StatusCode::kNotFound)
      return Status::not_found("require '{}': no module at {}", name, path);
    return text.status();
  }
  file.text = std::move(*text);
  file.sha256 = kernel::Sha256::of(file.text).hex();
  module_hashes_[std::string(name)] = file.sha256;
  return file;
}

Json ScriptSource::identity() const {
  Json modules = Json::object();
  for (const auto& [name, hash] : module_hashes_) modules.set(name, hash);
  return Json::object({{"entry", Json::object({{"path", entry_path_}, {"sha256", entry_.sha256}})},
                       {"modules", std::move(modules)},
                       {"lua", "5.4"}});
}

std::string ScriptSource::combined_hash() const {
  Json modules = Json::object();
  for (const auto& [name, hash] : module_hashes_) modules.set(name, hash);
  Json code = Json::object({{"entry", entry_.sha256}, {"modules", std::move(modules)}});
  auto text = kernel::canonical_json(code);
  return kernel::Sha256::of(text.ok() ? *text : entry_.sha256).hex();
}

}  // namespace artana::host
