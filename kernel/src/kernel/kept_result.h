// KeptResult: a step's recorded result kept in memory for the run's next execution in this
// process (KernelOptions::kept_result_bytes; docs/kernel.md, "Results kept for the next
// execution"), and KeptBudget, the bytes all of a kernel's runs may keep.
//
// A hot reload replays every live run from its start; each replayed step copies its kept text
// instead of reading the ledger. So a kept result is one allocation — its header and then
// the text — and a replay touches one stretch of memory, not three.
// Threading: a KeptResult is immutable; KeptBudget is thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace artana::kernel {

class KeptBudget {
 public:
  explicit KeptBudget(size_t limit) : limit_(limit) {}
  // Whether `bytes` more fit; if so they are counted until give() returns them.
  bool take(size_t bytes) {
    size_t used = used_.load(std::memory_order_relaxed);
    do {
      if (bytes > limit_ - std::min(used, limit_)) return false;
    } while (!used_.compare_exchange_weak(used, used + bytes, std::memory_order_relaxed));
    return true;
  }
  void give(size_t bytes) { used_.fetch_sub(bytes, std::memory_order_relaxed); }
  size_t used() const { return used_.load(std::memory_order_relaxed); }

 private:
  const size_t limit_;
  std::atomic<size_t> used_{0};
};

// The terminal at `seq` of a step, of event type `type`, its payload's canonical text as
// appended or as a replay read it. Stands for that terminal only: a step ended again (a
// retried failure) reads anew. Its bytes go back to the budget when it goes.
class KeptResult {
 public:
  struct Free {
    void operator()(const KeptResult* kept) const;
  };
  using Ptr = std::unique_ptr<const KeptResult, Free>;

  // `text` kept if `budget` has room for it (and there is memory); null otherwise.
  static Ptr make(uint64_t seq, std::string_view type, std::string_view text,
                  std::shared_ptr<KeptBudget> budget);

  KeptResult(const KeptResult&) = delete;
  KeptResult& operator=(const KeptResult&) = delete;

  uint64_t seq() const { return seq_; }
  const std::string& type() const { return type_; }
  std::string_view text() const { return {reinterpret_cast<const char*>(this + 1), size_}; }

 private:
  KeptResult(uint64_t seq, std::string_view type, size_t size, std::shared_ptr<KeptBudget> budget)
      : seq_(seq), size_(size), type_(type), budget_(std::move(budget)) {}
  ~KeptResult() = default;

  const uint64_t seq_;
  const size_t size_;
  const std::string type_;  // short: held in the string itself
  const std::shared_ptr<KeptBudget> budget_;
  // The text's bytes follow.
};

}  // namespace artana::kernel
