// PendingStep: the handle of one live step between Kernel::begin_model / begin_tool and
// finish_model / finish_tool. Move-only. Whoever holds it owns the kernel's record of the
// call: give it back to finish_* with the outcome, or drop it — its destructor abandons the
// step as a crash would (the kernel forgets the call; a side-effecting tool whose request
// was committed then needs reconciliation, a model step is asked again). So a host that
// kills, unloads or reloads a run frees everything by destroying what held the handles.
//
// REQUIRES: the Kernel outlives every handle it issued. A handle may be moved to, finished
// on or destroyed on any thread (the Kernel is thread-safe); one handle is not.
#pragma once

#include <cstdint>
#include <utility>

namespace artana::kernel {

class Kernel;

class PendingStep {
 public:
  PendingStep() = default;
  PendingStep(PendingStep&& other) noexcept
      : kernel_(std::exchange(other.kernel_, nullptr)), ticket_(std::exchange(other.ticket_, 0)) {}
  PendingStep& operator=(PendingStep&& other) noexcept {
    if (this != &other) {
      abandon();
      kernel_ = std::exchange(other.kernel_, nullptr);
      ticket_ = std::exchange(other.ticket_, 0);
    }
    return *this;
  }
  PendingStep(const PendingStep&) = delete;
  PendingStep& operator=(const PendingStep&) = delete;
  ~PendingStep() { abandon(); }

  // False for an empty handle (default, moved from, finished).
  explicit operator bool() const { return kernel_ != nullptr; }
  uint64_t ticket() const { return ticket_; }

  // Gives the step up now (what the destructor does). Safe on an empty handle.
  void abandon() noexcept;

 private:
  friend class Kernel;
  PendingStep(Kernel* kernel, uint64_t ticket) : kernel_(kernel), ticket_(ticket) {}
  // Empties the handle without abandoning (finish_* took the step).
  uint64_t release() {
    kernel_ = nullptr;
    return std::exchange(ticket_, 0);
  }

  Kernel* kernel_ = nullptr;
  uint64_t ticket_ = 0;
};

}  // namespace artana::kernel
