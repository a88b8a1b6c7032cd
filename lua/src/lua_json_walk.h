// Pieces of the Lua -> JSON walk (lua_json.cc) that need no Lua: the set of tables on the
// current path (a cycle is a table met again below itself) and the order of an object's
// members.
#pragma once

#include <array>
#include <cstddef>
#include <unordered_set>

#include "artana/kernel/json.h"

namespace artana::lua::detail {

// The tables on the current path, to find a cycle. Most values nest a few levels: those are
// kept in place and scanned (a set allocated a node per table of every syscall's argument);
// deeper levels go to a set, so a path 1000 tables deep is not scanned at every table.
class OpenTables {
 public:
  bool enter(const void* table) {
    for (size_t i = 0; i < shallow_count_; ++i) {
      if (shallow_[i] == table) return false;
    }
    if (shallow_count_ < shallow_.size()) {
      shallow_[shallow_count_++] = table;
      return true;
    }
    return deep_.insert(table).second;
  }
  // Leaving is in reverse order of entering: the deep levels empty first.
  void leave(const void* table) {
    if (!deep_.empty()) {
      deep_.erase(table);
    } else if (shallow_count_ > 0) {
      --shallow_count_;
    }
  }

 private:
  std::array<const void*, 16> shallow_{};
  size_t shallow_count_ = 0;
  std::unordered_set<const void*> deep_;
};

// Sorts an object's members by key in canonical (JCS) order.
void sort_members_by_key(kernel::Json::Object& members);

}  // namespace artana::lua::detail
