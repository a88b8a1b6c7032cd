// CommitMark: where a run's pipelined appends stand (KernelOptions::pipelined_commits).
//
// The kernel counts each append it issues for the run — its fork chain included — and each
// one that lands (committed or failed), on the store's commit thread. A host holds the mark
// of each run it executes and lets nothing of the run be seen outside (a script resumed, a
// side effect started, an end reported) while pending(). Reading it is two atomic loads.
// Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>

#include "artana/kernel/status.h"

namespace artana::kernel {

class CommitMark {
 public:
  // Appends issued and not landed yet.
  bool pending() const {
    return landed_.load(std::memory_order_acquire) != issued_.load(std::memory_order_acquire);
  }
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  // The first commit that failed, or OK. Set before that commit counts as landed.
  Status failure() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failure_;
  }

 private:
  friend class Kernel;
  void issue() { issued_.fetch_add(1, std::memory_order_acq_rel); }
  void land(const Status& status) {
    if (!status.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (failure_.ok()) failure_ = status;
      failed_.store(true, std::memory_order_release);
    }
    landed_.fetch_add(1, std::memory_order_acq_rel);
  }

  std::atomic<uint64_t> issued_{0};
  std::atomic<uint64_t> landed_{0};
  std::atomic<bool> failed_{false};
  mutable std::mutex mu_;
  Status failure_;
};

}  // namespace artana::kernel
