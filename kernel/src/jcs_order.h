// JcsOrder: an object's members in RFC 8785 order (keys by UTF-16 code units), without
// copying a key. Both canonical writers use it — the hashing one (canonical_json.cc) and the
// ledger's payload encoder (ledger/payload_codec.cc) — so objects are ordered one way.
//
// Objects built by our own code usually arrive sorted: n-1 comparisons confirm it and the
// members are used in place. Others are sorted as pointers, on the stack up to 16 members.
// Strictly increasing keys also rule out duplicates; duplicate() names the first one found.
// Thread-compatible; refers to `members`, which must outlive it and not change.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <vector>

#include "artana/kernel/json.h"

namespace artana::kernel {

class JcsOrder {
 public:
  explicit JcsOrder(const Json::Object& members);
  JcsOrder(const JcsOrder&) = delete;
  JcsOrder& operator=(const JcsOrder&) = delete;

  size_t size() const { return members_.size(); }
  const Json::Member& operator[](size_t i) const {
    return order_ == nullptr ? members_[i] : *order_[i];
  }
  // A key that appears twice, or nullptr.
  const std::string* duplicate() const { return duplicate_; }

 private:
  static constexpr size_t kInline = 16;
  const Json::Object& members_;
  const Json::Member** order_ = nullptr;  // null: in place
  std::array<const Json::Member*, kInline> inline_order_;
  std::vector<const Json::Member*> heap_order_;
  const std::string* duplicate_ = nullptr;
};

}  // namespace artana::kernel
