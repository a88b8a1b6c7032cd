// The member order of lua_json_walk.h.
#include <algorithm>
#include <array>
#include <cstdint>

#include "artana/kernel/canonical_json.h"
#include "lua_json_walk.h"

namespace artana::lua::detail {
namespace {

constexpr size_t kSortByIndexUpTo = 16;

}  // namespace

using kernel::Json;

// Sorts by key, moving each member at most once: a member is a string and a Json, whose
// moves cost more than the comparisons, and an insertion sort of a handful of them moves
// each several times. Few members: their indexes are sorted, then the members follow the
// permutation's cycles.
void sort_members_by_key(Json::Object& members) {
  const auto less = [](const Json::Member& a, const Json::Member& b) {
    return kernel::jcs_key_less(a.first, b.first);
  };
  const size_t n = members.size();
  if (n > kSortByIndexUpTo) {
    std::sort(members.begin(), members.end(), less);
    return;
  }
  std::array<uint8_t, kSortByIndexUpTo> from{};  // from[k]: the member that belongs at k
  bool sorted = true;
  for (size_t k = 0; k < n; ++k) {
    size_t j = k;
    for (; j > 0 && less(members[k], members[from[j - 1]]); --j) from[j] = from[j - 1];
    from[j] = static_cast<uint8_t>(k);
    sorted = sorted && j == k;
  }
  if (sorted) return;
  for (size_t start = 0; start < n; ++start) {
    if (from[start] == start) continue;
    Json::Member held = std::move(members[start]);
    size_t k = start;
    while (from[k] != start) {
      const size_t next = from[k];
      members[k] = std::move(members[next]);
      from[k] = static_cast<uint8_t>(k);
      k = next;
    }
    members[k] = std::move(held);
    from[k] = static_cast<uint8_t>(k);
  }
}

}  // namespace artana::lua::detail
