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

namespace {

std::string counter_key(std::string_view path, std::string_view kind) {
  std::string key(path);
  key += '\n';
  key.append(kind);
  return key;
}

}  // namespace

uint32_t StepKeys::derived_count(const std::string& key) const {
  // A derived key is "<path>/<kind>:<n>" (or "<kind>:<n>" at the root), where kind has no
  // '/' or ':' and n is a decimal without leading zeros.
  const size_t slash = key.rfind('/');
  const std::string_view path =
      slash == std::string::npos ? std::string_view() : std::string_view(key).substr(0, slash);
  const std::string_view rest =
      slash == std::string::npos ? std::string_view(key) : std::string_view(key).substr(slash + 1);
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return 0;
  const std::string_view digits = rest.substr(colon + 1);
  if (digits[0] == '0' || digits.size() > 9) return 0;
  uint32_t n = 0;
  for (char c : digits) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint32_t>(c - '0');
  }
  auto it = counters_.find(counter_key(path, rest.substr(0, colon)));
  return it != counters_.end() && it->second >= n ? n : 0;
}

Result<std::string> StepKeys::claim(const std::string& path, std::string_view kind,
                                    std::optional<std::string_view> explicit_key,
                                    const std::function<std::string()>& where) {
  std::string key = path;
  if (!key.empty()) key += '/';
  if (!explicit_key) {
    // Derived keys never collide with each other (one counter per scope path and kind), so
    // only the explicit keys claimed so far are looked up: a replay of 100 000 derived steps
    // keeps no set of 100 000 keys.
    const uint32_t n = ++counters_[counter_key(path, kind)];
    key.append(kind);
    key += ':';
    key += std::to_string(n);
    if (!explicit_.empty()) {
      auto it = explicit_.find(key);
      if (it != explicit_.end()) return used_twice(key, it->second, where());
    }
    return key;
  }
  if (explicit_key->empty()) return Status::invalid_argument("step_key must not be empty");
  key.append(*explicit_key);
  if (derived_count(key) != 0) return used_twice(key, "an earlier derived step", where());
  auto [it, inserted] = explicit_.try_emplace(key);
  if (!inserted) return used_twice(key, it->second, where());
  it->second = where();
  return key;
}

Status StepKeys::used_twice(const std::string& key, const std::string& first,
                            const std::string& second) {
  return Status::invalid_argument("step key '{}' is used twice in this run: at {} and at {}", key,
                                  first, second)
      .with_kind(ErrorKind::kInvalidArgument, key);
}

}  // namespace artana::host
