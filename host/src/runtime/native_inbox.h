// NativeInbox: one host's side of native calls (artana/host/native_calls.h): it issues
// tokens in the process-wide registry, holds completions until the host's tick takes them,
// and cancels the tokens of a run that stops here or of the whole host when it goes.
//
// Threading: complete_native pushes from any thread (under the inbox's mutex) and calls the
// wake function; has_done is one atomic load, for an idle tick; the rest is the host's
// thread's.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "artana/host/native_calls.h"

namespace artana::host {

class NativeInbox {
 public:
  // `wake` is called (from the completing thread) after a completion arrives: the host's
  // wakeup descriptor becomes readable.
  explicit NativeInbox(std::function<void()> wake);
  ~NativeInbox();  // every outstanding token is cancelled
  NativeInbox(const NativeInbox&) = delete;
  NativeInbox& operator=(const NativeInbox&) = delete;

  // A new token for `owner`'s task `task_id`.
  uint64_t issue(uintptr_t owner, uint64_t task_id);
  // Cancels the outstanding tokens of `owner` (a run stopping here).
  void cancel_owner(uintptr_t owner);

  struct Done {
    uintptr_t owner = 0;
    uint64_t task_id = 0;
    NativeReply reply;
  };
  bool has_done() const { return done_count_.load(std::memory_order_acquire) > 0; }
  // The completions since the last call, in arrival order.
  std::vector<Done> take();
  // Tokens issued and neither completed nor cancelled.
  size_t outstanding() const { return waiting_.size(); }

  // complete_native's delivery (registry lock held): false when the inbox closed.
  struct Shared;

 private:
  std::shared_ptr<Shared> shared_;
  std::atomic<size_t>& done_count_;
  // token -> (owner, task id): the host thread's view of what it waits for.
  struct Waiting {
    uintptr_t owner = 0;
    uint64_t task_id = 0;
  };
  std::unordered_map<uint64_t, Waiting> waiting_;
  // owner -> its tokens in waiting_: a run stopping finds its own without looking at every
  // other run's (a reload of a thousand runs waiting on the application is linear).
  std::unordered_map<uintptr_t, std::vector<uint64_t>> by_owner_;

  void forget(uint64_t token, uintptr_t owner);
};

}  // namespace artana::host
