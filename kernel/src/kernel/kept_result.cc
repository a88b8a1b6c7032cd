#include "kernel/kept_result.h"

#include <cstring>
#include <new>

namespace artana::kernel {

KeptResult::Ptr KeptResult::make(uint64_t seq, std::string_view type, std::string_view text,
                                 std::shared_ptr<KeptBudget> budget) {
  if (budget == nullptr || !budget->take(text.size())) return nullptr;
  void* block = ::operator new(sizeof(KeptResult) + text.size(), std::nothrow);
  if (block == nullptr) {
    budget->give(text.size());
    return nullptr;
  }
  KeptResult* kept = nullptr;
  try {
    kept = new (block) KeptResult(seq, type, text.size(), budget);
  } catch (const std::bad_alloc&) {  // a type too long for the string's own buffer
    ::operator delete(block);
    budget->give(text.size());
    return nullptr;
  }
  std::memcpy(static_cast<char*>(block) + sizeof(KeptResult), text.data(), text.size());
  return Ptr(kept);
}

void KeptResult::Free::operator()(const KeptResult* kept) const {
  kept->budget_->give(kept->size_);
  kept->~KeptResult();
  ::operator delete(const_cast<KeptResult*>(kept));
}

}  // namespace artana::kernel
