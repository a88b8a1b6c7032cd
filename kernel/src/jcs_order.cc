#include "jcs_order.h"

#include <algorithm>

#include "utf8.h"

namespace artana::kernel {

JcsOrder::JcsOrder(const Json::Object& members) : members_(members) {
  const size_t n = members.size();
  size_t i = 1;
  while (i < n && utf16_less(members[i - 1].first, members[i].first)) ++i;
  if (i >= n) return;  // strictly increasing: in place, and no duplicates
  order_ = inline_order_.data();
  if (n > kInline) {
    heap_order_.resize(n);
    order_ = heap_order_.data();
  }
  const auto less = [](const Json::Member* a, const Json::Member* b) {
    return utf16_less(a->first, b->first);
  };
  if (n <= kInline) {
    // Insertion sort: for a handful of members it is what std::sort ends in anyway, without
    // the dispatch around it.
    for (size_t k = 0; k < n; ++k) {
      const Json::Member* m = &members[k];
      size_t j = k;
      for (; j > 0 && less(m, order_[j - 1]); --j) order_[j] = order_[j - 1];
      order_[j] = m;
    }
  } else {
    for (size_t k = 0; k < n; ++k) order_[k] = &members[k];
    std::sort(order_, order_ + n, less);
  }
  for (size_t k = 1; k < n; ++k) {
    if (order_[k - 1]->first == order_[k]->first) {
      duplicate_ = &order_[k]->first;
      return;
    }
  }
}

}  // namespace artana::kernel
