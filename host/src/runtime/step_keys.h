// Step identity for scripts (DESIGN.md §2): a syscall without an explicit step_key gets
// `<scope path>/<kind>:<n>` — at the root exactly `<kind>:<n>` — where n counts that kind's
// calls in that scope path during this execution, from 1; an explicit key gets the scope
// path as prefix. Keys depend only on the order of calls within one scope, so run:parallel
// branches (each its own scope) get the same keys whatever order they complete in.
// Threading: thread-compatible.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "artana/kernel/status.h"

namespace artana::host {

// A task's scopes: run:scope pushes one, its end pops it. A branch starts at its branch path.
class ScopeStack {
 public:
  explicit ScopeStack(std::string base = {}) { paths_.push_back(std::move(base)); }
  const std::string& path() const { return paths_.back(); }
  // `name` one level deeper: "<path>/<name>", or "<name>" at the root.
  void enter(std::string_view name);
  // False when only the base is left (an exit without an enter).
  bool exit();

 private:
  std::vector<std::string> paths_;
};

// Checks a scope or branch name: 1..100 bytes, no '/' (it separates path levels).
Status check_scope_name(std::string_view name);

// The keys of one execution of a run.
class StepKeys {
 public:
  // The key for a call of `kind` in scope `path` (see above), claimed by the script line
  // `where()` gives ("main.lua:12"). A key claimed before is invalid_argument naming both
  // lines. `where` is only asked for explicit keys and collisions: finding a line costs a
  // walk of the Lua stack, and a replayed syscall is meant to cost well under a microsecond.
  Result<std::string> claim(const std::string& path, std::string_view kind,
                            std::optional<std::string_view> explicit_key,
                            const std::function<std::string()>& where);

 private:
  // n when `key` is the derived key of the n-th call of some kind in some scope path and
  // that call was made in this execution; else 0.
  uint32_t derived_count(const std::string& key) const;
  static Status used_twice(const std::string& key, const std::string& first,
                           const std::string& second);

  std::unordered_map<std::string, uint32_t> counters_;  // "<path>\n<kind>" -> calls so far
  // Explicit keys -> the line that claimed each. Derived keys are not kept: they are unique
  // by construction and checked against this map and counters_.
  std::unordered_map<std::string, std::string> explicit_;
};

}  // namespace artana::host
