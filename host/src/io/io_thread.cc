#include "io_thread.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <deque>
#include <map>
#include <unordered_map>

#include "curl_transfer.h"

namespace artana::io {

using Clock = std::chrono::steady_clock;

// What the host's thread and the I/O thread share, under `mu`.
struct IoThread::Shared {
  std::mutex mu;
  const CurlLibrary* curl = nullptr;
  CURLM* multi = nullptr;
  bool stopping = false;
  uint64_t next_id = 1;
  size_t in_flight = 0;
  std::vector<std::unique_ptr<CurlTransfer>> submitted;
  struct SubmittedProcess {
    uint64_t id, owner;
    ProcessCall call;
  };
  std::vector<SubmittedProcess> submitted_processes;
  std::vector<uint64_t> cancelled_owners;
  std::vector<Completion> done;
};

namespace {

// The I/O thread's own state: transfers waiting out their delay, queued behind their host's
// cap, and running.
class Transfers {
 public:
  Transfers(const CurlLibrary& curl, CURLM* multi) : curl_(curl), multi_(multi) {}
  ~Transfers() {
    for (auto& [easy, transfer] : running_) curl_.multi_remove_handle(multi_, easy);
  }

  void add(std::unique_ptr<CurlTransfer> transfer) {
    const Clock::time_point due = transfer->due;
    waiting_.emplace(due, std::move(transfer));
  }

  // Moves due transfers on, into the multi handle or their host's queue.
  void start_due(Clock::time_point now, std::vector<IoThread::Completion>& failed) {
    while (!waiting_.empty() && waiting_.begin()->first <= now) {
      std::unique_ptr<CurlTransfer> transfer = std::move(waiting_.begin()->second);
      waiting_.erase(waiting_.begin());
      Host& host = hosts_[transfer->host_key()];
      host.queued.push_back(std::move(transfer));
      admit(host, failed);
    }
  }

  // The time until the next wait ends, capped at `cap_ms`.
  int timeout_ms(Clock::time_point now, int cap_ms) const {
    if (waiting_.empty()) return cap_ms;
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(waiting_.begin()->first - now);
    return static_cast<int>(std::clamp<int64_t>(left.count(), 0, cap_ms));
  }

  // A transfer libcurl finished: its result, and the next one of its host started.
  IoThread::Completion finished(CURL* easy, CURLcode code,
                                std::vector<IoThread::Completion>& failed) {
    auto it = running_.find(easy);
    std::unique_ptr<CurlTransfer> transfer = std::move(it->second);
    running_.erase(it);
    curl_.multi_remove_handle(multi_, easy);
    IoThread::Completion completion{transfer->id(), transfer->owner(), transfer->finish(code)};
    Host& host = hosts_[transfer->host_key()];
    --host.active;
    admit(host, failed);
    return completion;
  }

  // Drops every transfer of `owner`; returns how many. The connections its running ones held
  // go to other owners' transfers queued behind their host's cap (else those would wait for
  // a transfer to that host to start or end, maybe forever).
  size_t cancel(uint64_t owner, std::vector<IoThread::Completion>& failed) {
    size_t dropped = 0;
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second->owner() != owner) {
        ++it;
        continue;
      }
      it = waiting_.erase(it);
      ++dropped;
    }
    for (auto& [key, host] : hosts_) {
      const size_t before = host.queued.size();
      std::erase_if(host.queued, [&](const auto& t) { return t->owner() == owner; });
      dropped += before - host.queued.size();
    }
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->owner() != owner) {
        ++it;
        continue;
      }
      curl_.multi_remove_handle(multi_, it->first);
      --hosts_[it->second->host_key()].active;
      it = running_.erase(it);
      ++dropped;
    }
    for (auto& [key, host] : hosts_) admit(host, failed);
    return dropped;
  }

 private:
  struct Host {
    int active = 0;
    std::deque<std::unique_ptr<CurlTransfer>> queued;
  };

  void admit(Host& host, std::vector<IoThread::Completion>& failed) {
    while (!host.queued.empty() && host.active < host.queued.front()->call().max_host_connections) {
      std::unique_ptr<CurlTransfer> transfer = std::move(host.queued.front());
      host.queued.pop_front();
      const CURLMcode code = curl_.multi_add_handle(multi_, transfer->easy());
      if (code != CURLM_OK) {
        failed.push_back(
            {transfer->id(), transfer->owner(), CurlTransfer::failed(curl_.multi_strerror(code))});
        continue;
      }
      ++host.active;
      running_.emplace(transfer->easy(), std::move(transfer));
    }
  }

  const CurlLibrary& curl_;
  CURLM* multi_;
  std::multimap<Clock::time_point, std::unique_ptr<CurlTransfer>> waiting_;
  std::map<std::string, Host> hosts_;
  std::unordered_map<CURL*, std::unique_ptr<CurlTransfer>> running_;
};

}  // namespace

IoThread::IoThread() : shared_(std::make_unique<Shared>()) {
  event_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

IoThread::~IoThread() {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    shared_->stopping = true;
    if (shared_->multi != nullptr) shared_->curl->multi_wakeup(shared_->multi);
  }
  if (thread_.joinable()) thread_.join();
  if (shared_->multi != nullptr) shared_->curl->multi_cleanup(shared_->multi);
  if (event_fd_ >= 0) ::close(event_fd_);
}

Result<uint64_t> IoThread::submit(HttpCall call, uint64_t owner) {
  ARTANA_ASSIGN_OR_RETURN(const CurlLibrary* curl, CurlLibrary::get());
  std::lock_guard<std::mutex> lock(shared_->mu);
  const uint64_t id = shared_->next_id++;
  const Clock::time_point due = Clock::now() + std::chrono::milliseconds(call.start_after_ms);
  auto transfer = CurlTransfer::create(*curl, std::move(call), id, owner);
  ++shared_->in_flight;
  if (!transfer.ok()) {
    // Reported like any failed request: the caller has one path for results.
    shared_->done.push_back({id, owner, CurlTransfer::failed(transfer.status().message())});
    const uint64_t one = 1;
    (void)!::write(event_fd_, &one, sizeof(one));
    return id;
  }
  (*transfer)->due = due;
  shared_->submitted.push_back(std::move(*transfer));
  if (shared_->multi == nullptr) {
    shared_->curl = curl;
    start_locked();
  }
  curl->multi_wakeup(shared_->multi);
  return id;
}

Result<uint64_t> IoThread::submit_process(ProcessCall call, uint64_t owner) {
  ARTANA_ASSIGN_OR_RETURN(const CurlLibrary* curl, CurlLibrary::get());  // the loop polls with it
  std::lock_guard<std::mutex> lock(shared_->mu);
  const uint64_t id = shared_->next_id++;
  ++shared_->in_flight;
  shared_->submitted_processes.push_back({id, owner, std::move(call)});
  if (shared_->multi == nullptr) {
    shared_->curl = curl;
    start_locked();
  }
  curl->multi_wakeup(shared_->multi);
  return id;
}

void IoThread::start_locked() {
  shared_->multi = shared_->curl->multi_init();
  thread_ = std::thread([this] { loop(); });
}

void IoThread::cancel_owner(uint64_t owner) {
  std::lock_guard<std::mutex> lock(shared_->mu);
  const size_t before = shared_->done.size();
  std::erase_if(shared_->done, [&](const Completion& c) { return c.owner == owner; });
  shared_->in_flight -= before - shared_->done.size();
  const size_t submitted = shared_->submitted.size();
  std::erase_if(shared_->submitted, [&](const auto& t) { return t->owner() == owner; });
  shared_->in_flight -= submitted - shared_->submitted.size();
  const size_t processes = shared_->submitted_processes.size();
  std::erase_if(shared_->submitted_processes, [&](const auto& p) { return p.owner == owner; });
  shared_->in_flight -= processes - shared_->submitted_processes.size();
  if (shared_->multi == nullptr) return;
  shared_->cancelled_owners.push_back(owner);
  shared_->curl->multi_wakeup(shared_->multi);
}

void IoThread::poke() {
  const uint64_t one = 1;
  (void)!::write(event_fd_, &one, sizeof(one));
}

void IoThread::drain_wakeup() {
  uint64_t count = 0;
  (void)!::read(event_fd_, &count, sizeof(count));
}

std::vector<IoThread::Completion> IoThread::take_completions() {
  uint64_t count = 0;
  (void)!::read(event_fd_, &count, sizeof(count));
  std::lock_guard<std::mutex> lock(shared_->mu);
  std::vector<Completion> done;
  done.swap(shared_->done);
  shared_->in_flight -= done.size();
  return done;
}

bool IoThread::wait(std::chrono::microseconds max) {
  {
    std::lock_guard<std::mutex> lock(shared_->mu);
    if (!shared_->done.empty()) return true;
  }
  pollfd fd{event_fd_, POLLIN, 0};
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(max).count();
  return ::poll(&fd, 1, static_cast<int>(std::clamp<int64_t>(ms, 0, 1 << 30))) > 0;
}

size_t IoThread::in_flight() const {
  std::lock_guard<std::mutex> lock(shared_->mu);
  return shared_->in_flight;
}

void IoThread::loop() {
  pthread_setname_np(pthread_self(), "artana-io");  // for top -H and perf
  const CurlLibrary& curl = *shared_->curl;
  CURLM* multi = shared_->multi;
  Transfers transfers(curl, multi);
  struct Running {
    uint64_t id, owner;
    std::unique_ptr<ChildProcess> child;
  };
  std::vector<Running> processes;
  std::vector<curl_waitfd> waits;
  std::vector<Completion> finished;
  for (;;) {
    std::vector<std::unique_ptr<CurlTransfer>> submitted;
    std::vector<Shared::SubmittedProcess> spawns;
    std::vector<uint64_t> cancelled;
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      if (shared_->stopping) return;  // ~Running kills what is still running
      submitted.swap(shared_->submitted);
      spawns.swap(shared_->submitted_processes);
      cancelled.swap(shared_->cancelled_owners);
    }
    for (auto& transfer : submitted) transfers.add(std::move(transfer));
    for (auto& spawn : spawns) {
      processes.push_back({spawn.id, spawn.owner, ChildProcess::spawn(spawn.call)});
    }
    size_t dropped = 0;
    for (uint64_t owner : cancelled) {
      dropped += transfers.cancel(owner, finished);
      dropped += std::erase_if(processes, [&](const Running& p) { return p.owner == owner; });
    }
    Clock::time_point now = Clock::now();
    transfers.start_due(now, finished);
    int running = 0;
    curl.multi_perform(multi, &running);
    int left = 0;
    while (CURLMsg* message = curl.multi_info_read(multi, &left)) {
      if (message->msg != CURLMSG_DONE) continue;
      Completion completion =
          transfers.finished(message->easy_handle, message->data.result, finished);
      finished.push_back(std::move(completion));
    }
    now = Clock::now();
    for (auto it = processes.begin(); it != processes.end();) {
      if (!it->child->advance(now)) {
        ++it;
        continue;
      }
      finished.push_back({it->id, it->owner, HttpResult(), it->child->take_result()});
      it = processes.erase(it);
    }
    if (!finished.empty() || dropped > 0) {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->in_flight -= dropped;
      for (Completion& completion : finished) shared_->done.push_back(std::move(completion));
      finished.clear();
      const uint64_t one = 1;
      (void)!::write(event_fd_, &one, sizeof(one));
    }
    // Wait for a socket, a pipe, a program's end, a timer, or a wakeup (a new request).
    now = Clock::now();
    int timeout = transfers.timeout_ms(now, 1000);
    waits.clear();
    for (const Running& process : processes) {
      const auto due =
          std::chrono::ceil<std::chrono::milliseconds>(process.child->next_deadline() - now);
      timeout = std::min<int>(timeout, static_cast<int>(std::max<int64_t>(0, due.count())));
      for (int fd : process.child->poll_fds()) waits.push_back({fd, CURL_WAIT_POLLIN, 0});
    }
    int ready = 0;
    curl.multi_poll(multi, waits.data(), static_cast<unsigned>(waits.size()), timeout, &ready);
  }
}

}  // namespace artana::io
