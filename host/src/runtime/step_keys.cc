#include "step_keys.h"

namespace artana::host {

void ScopeStack::enter(std::string_view name) {
  const std::string& base = paths_.back();
  paths_.push_back(base.empty() ? std::string(name) : base + "/" + std::string(name));
}

bool ScopeStack::exit() {
  if (paths_.size() <= 1) return false;
  paths_.pop_back();
  return true;
}

Status check_scope_name(std::string_view name) {
  if (name.empty() || name.size() > 100)
    return Status::invalid_argument("a scope name must be 1 to 100 bytes, got {}", name.size());
  if (name.find('/') != std::string_view::npos)
    return Status::invalid_argument("scope name '{}' contains '/', which separates scope levels",
                                    name);
  return Status();
}

Result<std::string> StepKeys::claim(const std::string& path, std::string_view kind,
                                    std::optional<std::string_view> explicit_key,
                                    const std::function<std::string()>& where) {
  std::string key = path;
  if (!key.empty()) key += '/';
  if (explicit_key) {
    if (explicit_key->empty()) return Status::invalid_argument("step_key must not be empty");
    key.append(*explicit_key);
  } else {
    std::string counter_key = path;
    counter_key += '\n';
    counter_key.append(kind);
    const uint32_t n = ++counters_[counter_key];
    key.append(kind);
    key += ':';
    key += std::to_string(n);
  }
  auto [it, inserted] = used_.try_emplace(key);
  if (!inserted) {
    return Status::invalid_argument("step key '{}' is used twice in this run: at {} and at {}", key,
                                    it->second.empty() ? "an earlier derived step" : it->second,
                                    where())
        .with_kind(ErrorKind::kInvalidArgument, key);
  }
  if (explicit_key) it->second = where();
  return key;
}

}  // namespace artana::host
