// Native calls' tokens and completions (native_calls.h, native_inbox.h).
#include "native_inbox.h"

#include <deque>
#include <string>
#include <utility>

namespace artana::host {

struct NativeInbox::Shared {
  std::mutex mu;
  std::deque<std::pair<uint64_t, NativeReply>> done;  // token, reply
  std::atomic<size_t> count{0};
  // Its own lock: the wake is a system call, made holding no lock the host's thread takes.
  std::mutex wake_mu;
  std::function<void()> wake;
};

namespace {

// Every token of the process: outstanding, or cancelled and not yet completed (so that a late
// completion is told it was cancelled rather than unknown). A completed token leaves; one
// below `next` that is not here was completed.
struct Registry {
  struct Entry {
    std::shared_ptr<NativeInbox::Shared> inbox;
    bool cancelled = false;
  };
  std::mutex mu;
  std::unordered_map<uint64_t, Entry> entries;
  uint64_t next = 1;
};

Registry& registry() {
  // Never destroyed: an application thread may complete a token while the process exits.
  static Registry* const instance = new Registry();
  return *instance;
}

}  // namespace

CompleteResult complete_native(uint64_t token, NativeReply reply) {
  Registry& r = registry();
  std::unique_lock<std::mutex> lock(r.mu);
  auto it = r.entries.find(token);
  if (it == r.entries.end()) {
    return token != 0 && token < r.next ? CompleteResult::kAlreadyDone
                                        : CompleteResult::kUnknownToken;
  }
  if (it->second.cancelled) {
    r.entries.erase(it);
    return CompleteResult::kCancelled;
  }
  std::shared_ptr<NativeInbox::Shared> inbox = std::move(it->second.inbox);
  r.entries.erase(it);
  {
    std::lock_guard<std::mutex> inbox_lock(inbox->mu);
    inbox->done.emplace_back(token, std::move(reply));
    inbox->count.fetch_add(1, std::memory_order_release);
  }
  lock.unlock();
  // Under the wake's own lock: the host cannot finish closing (~NativeInbox takes it) while
  // its wake function runs, and the registry is free meanwhile.
  std::lock_guard<std::mutex> wake_lock(inbox->wake_mu);
  if (inbox->wake) inbox->wake();
  return CompleteResult::kDone;
}

NativeInbox::NativeInbox(std::function<void()> wake)
    : shared_(std::make_shared<Shared>()), done_count_(shared_->count) {
  shared_->wake = std::move(wake);
}

NativeInbox::~NativeInbox() {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (const auto& [token, waiting] : waiting_) {
    auto it = r.entries.find(token);
    if (it != r.entries.end()) {
      it->second.cancelled = true;
      it->second.inbox.reset();
    }
  }
  std::lock_guard<std::mutex> wake_lock(shared_->wake_mu);
  shared_->wake = nullptr;
}

uint64_t NativeInbox::issue(uintptr_t owner, uint64_t task_id) {
  Registry& r = registry();
  uint64_t token = 0;
  {
    std::lock_guard<std::mutex> lock(r.mu);
    token = r.next++;
    r.entries.emplace(token, Registry::Entry{shared_, false});
  }
  waiting_.emplace(token, Waiting{owner, task_id});
  by_owner_[owner].push_back(token);
  return token;
}

void NativeInbox::forget(uint64_t token, uintptr_t owner) {
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  std::erase(it->second, token);
  if (it->second.empty()) by_owner_.erase(it);
}

void NativeInbox::cancel_owner(uintptr_t owner) {
  auto owned = by_owner_.find(owner);
  if (owned == by_owner_.end()) return;
  const std::vector<uint64_t> tokens = std::move(owned->second);
  by_owner_.erase(owned);
  for (uint64_t token : tokens) waiting_.erase(token);
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  for (uint64_t token : tokens) {
    auto it = r.entries.find(token);
    if (it != r.entries.end()) {
      it->second.cancelled = true;
      it->second.inbox.reset();
    }
  }
}

std::vector<NativeInbox::Done> NativeInbox::take() {
  std::deque<std::pair<uint64_t, NativeReply>> arrived;
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    arrived.swap(shared_->done);
    shared_->count.store(0, std::memory_order_release);
  }
  std::vector<Done> out;
  out.reserve(arrived.size());
  for (auto& [token, reply] : arrived) {
    auto it = waiting_.find(token);
    if (it == waiting_.end()) continue;  // its run stopped here after it was completed
    out.push_back(Done{it->second.owner, it->second.task_id, std::move(reply)});
    forget(token, it->second.owner);
    waiting_.erase(it);
  }
  return out;
}

}  // namespace artana::host
