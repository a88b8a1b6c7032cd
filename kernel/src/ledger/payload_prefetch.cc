#include "ledger/payload_prefetch.h"

#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {

PayloadPrefetch::~PayloadPrefetch() { stop_worker(mu_, wake_, stopping_, thread_); }

void PayloadPrefetch::start(const RunId& run, std::vector<uint64_t> seqs, size_t max_bytes) {
  if (seqs.empty()) return;
  Request request{run, std::move(seqs), max_bytes};
  {
    // Never waits for the thread (a ticking thread calls this): when the thread holds mu_ —
    // preempted holding it, on a busy machine, it kept a reload's ticking thread asleep for
    // most of a millisecond, six or seven times a reload — the request waits in the outbox.
    std::unique_lock<std::mutex> lock(mu_, std::try_to_lock);
    if (!lock.owns_lock()) {
      std::lock_guard<std::mutex> out(outbox_mu_);
      outbox_.push_back(std::move(request));
      outbox_waiting_.store(true, std::memory_order_release);
    } else {
      if (stopping_) return;
      take_outbox_locked();  // the requests made before this one, first
      queue_locked(std::move(request));
      // Started on first use: a process that never replays a long run has no thread.
      if (!thread_.joinable()) {
        thread_ = std::thread([this] {
          name_this_thread("artana-prefetch");
          run_as_background();  // woken by a start() or take(), it does not preempt the caller
          serve();
        });
      }
    }
  }
  wake_.notify_one();
}

void PayloadPrefetch::queue_locked(Request request) {
  const std::string key = request.run.str();
  auto [it, fresh] = slots_.try_emplace(key);
  Slot& slot = it->second;
  if (!fresh) {
    // Being read: that read goes on (its replay may yet ask for it); the newer request is
    // read by its caller.
    if (slot.state == Slot::State::kReading) return;
    if (slot.state == Slot::State::kFinished) finished_bytes_ -= slot.bytes;
  } else if (queued_.size() >= limits_.max_queued) {
    slots_.erase(it);  // a backlog this long is read sooner by the replays themselves
    return;
  }
  slot = Slot{Slot::State::kQueued, std::move(request), next_order_++, std::nullopt, 0};
  queued_.emplace_back(key, slot.order);
}

void PayloadPrefetch::take_outbox_locked() {
  if (!outbox_waiting_.load(std::memory_order_acquire)) return;
  std::vector<Request> requests;
  {
    std::lock_guard<std::mutex> out(outbox_mu_);
    requests.swap(outbox_);
    outbox_waiting_.store(false, std::memory_order_relaxed);
  }
  // In the order made: a run's newer request replaces its older one as start() would.
  for (Request& request : requests) queue_locked(std::move(request));
}

PayloadPrefetch::Slot* PayloadPrefetch::slot_of(const SlotKey& key) {
  auto it = slots_.find(key.first);
  return it == slots_.end() || it->second.order != key.second ? nullptr : &it->second;
}

std::optional<PayloadPrefetch::Batch> PayloadPrefetch::take(const RunId& run,
                                                            const std::vector<uint64_t>& seqs,
                                                            size_t max_bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  take_outbox_locked();  // a request still there is one not begun: the caller's to read
  auto it = slots_.find(run.str());
  if (it == slots_.end()) return std::nullopt;
  if (it->second.state == Slot::State::kReading) {
    // Another batch being read is left to finish (and be dropped in time): never taken away
    // from under the thread.
    if (!it->second.request.matches(run, seqs, max_bytes)) return std::nullopt;
    const uint64_t order = it->second.order;
    done_.wait(lock, [&] {
      it = slots_.find(run.str());
      return it == slots_.end() || it->second.order != order ||
             it->second.state != Slot::State::kReading;
    });
    if (it == slots_.end() || it->second.order != order) return std::nullopt;
  }
  Slot& slot = it->second;
  // Not begun (the caller reads it sooner itself), or another batch than asked (the replay
  // went elsewhere): the slot goes either way.
  const bool hit =
      slot.state == Slot::State::kFinished && slot.request.matches(run, seqs, max_bytes);
  if (slot.state == Slot::State::kFinished) finished_bytes_ -= slot.bytes;
  std::optional<Result<Packed>> packed = std::move(slot.result);
  slots_.erase(it);  // its keys in the queues name nothing now
  if (!packed || !packed->ok()) {
    lock.unlock();
    if (!hit || !packed) return std::nullopt;
    return Batch(packed->status());
  }
  std::optional<Batch> batch;
  if (hit) batch.emplace(unpack(**packed));
  spent_.push_back(std::move(**packed));
  // Freed when the thread wakes next (a start(), which a replay's next batch makes): woken
  // for it only once a few wait — a wake-up a take had the woken thread preempt this one.
  const bool wake = spent_.size() == kSpentWake;
  lock.unlock();
  if (wake) wake_.notify_one();
  return batch;
}

void PayloadPrefetch::drop_finished_beyond_caps() {
  while (!finished_.empty() && (finished_.size() > limits_.max_finished ||
                                finished_bytes_ > limits_.max_finished_bytes)) {
    const SlotKey key = std::move(finished_.front());
    finished_.pop_front();
    Slot* slot = slot_of(key);
    if (slot == nullptr || slot->state != Slot::State::kFinished) continue;
    finished_bytes_ -= slot->bytes;
    slots_.erase(key.first);
  }
}

PayloadPrefetch::Packed PayloadPrefetch::pack(std::vector<PayloadText>&& texts) {
  Packed packed;
  size_t bytes = 0;
  for (const PayloadText& text : texts) bytes += text.type.size() + text.text.size();
  packed.bytes.reserve(bytes);
  packed.entries.reserve(texts.size());
  for (PayloadText& text : texts) {
    Packed::Entry entry;
    entry.seq = text.seq;
    entry.type_at = packed.bytes.size();
    entry.type_len = text.type.size();
    packed.bytes += text.type;
    entry.text_at = packed.bytes.size();
    entry.text_len = text.text.size();
    packed.bytes += text.text;
    entry.payload = std::move(text.payload);
    packed.entries.push_back(std::move(entry));
  }
  return packed;
}

std::vector<PayloadText> PayloadPrefetch::unpack(Packed& packed) {
  std::vector<PayloadText> out;
  out.reserve(packed.entries.size());
  const std::string_view bytes = packed.bytes;
  for (Packed::Entry& entry : packed.entries) {
    out.push_back(PayloadText{std::string(bytes.substr(entry.type_at, entry.type_len)), entry.seq,
                              std::string(bytes.substr(entry.text_at, entry.text_len)),
                              std::move(entry.payload)});
  }
  return out;
}

uint64_t PayloadPrefetch::batches_read() const {
  std::lock_guard<std::mutex> lock(mu_);
  return batches_read_;
}

void PayloadPrefetch::wait_idle() {
  std::unique_lock<std::mutex> lock(mu_);
  take_outbox_locked();
  wake_.notify_one();
  done_.wait(lock, [&] {
    if (!queued_.empty()) {
      // Entries naming slots taken back or replaced are skipped by the thread, not read.
      for (const SlotKey& key : queued_) {
        const Slot* slot = slot_of(key);
        if (slot != nullptr && slot->state == Slot::State::kQueued) return false;
      }
    }
    for (const auto& [run, slot] : slots_)
      if (slot.state == Slot::State::kReading) return false;
    return true;
  });
}

void PayloadPrefetch::serve() {
  // The buffers given back, moved here one by one: neither vector's own storage changes
  // thread (spent_'s was allocated by the callers of take).
  std::vector<Packed> freeing;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    // A request put in the outbox while this thread was going to sleep waits for the next
    // start() (or the take() that reads it itself): a read ahead is a hint.
    wake_.wait(lock, [&] {
      return stopping_ || !queued_.empty() || spent_.size() >= kSpentWake ||
             outbox_waiting_.load(std::memory_order_acquire);
    });
    if (stopping_) break;
    take_outbox_locked();
    if (!spent_.empty()) {
      for (Packed& packed : spent_) freeing.push_back(std::move(packed));
      spent_.clear();
      lock.unlock();
      freeing.clear();  // freed by the thread that allocated them
      lock.lock();
    }
    if (queued_.empty()) continue;
    const SlotKey key = std::move(queued_.front());
    queued_.pop_front();
    Slot* slot = slot_of(key);
    if (slot == nullptr || slot->state != Slot::State::kQueued) continue;  // taken or replaced
    slot->state = Slot::State::kReading;
    const Request request = slot->request;
    lock.unlock();
    Batch batch = read_(request.run, request.seqs, request.max_bytes);
    Result<Packed> packed = batch.ok() ? Result<Packed>(pack(std::move(batch).value()))
                                       : Result<Packed>(batch.status());
    batch = Batch(std::vector<PayloadText>());  // its strings freed here, by their thread
    lock.lock();
    ++batches_read_;
    // A slot being read is neither replaced nor taken away (start, take): still this one.
    slot = slot_of(key);
    if (slot != nullptr) {
      slot->bytes = packed.ok() ? packed->bytes.size() : 0;
      slot->result.emplace(std::move(packed));
      slot->state = Slot::State::kFinished;
      finished_bytes_ += slot->bytes;
      finished_.push_back(key);
      drop_finished_beyond_caps();
    }
    // Outside the lock: a waiter woken (take) does not wait for it again.
    lock.unlock();
    done_.notify_all();
    lock.lock();
  }
  done_.notify_all();
}

}  // namespace artana::kernel::ledger
