#include "ledger/payload_prefetch.h"

#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {

PayloadPrefetch::~PayloadPrefetch() { stop_worker(mu_, wake_, stopping_, thread_); }

void PayloadPrefetch::start(const RunId& run, std::vector<uint64_t> seqs, size_t max_bytes) {
  if (seqs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    auto [it, fresh] = slots_.try_emplace(run.str());
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
    slot = Slot{Slot::State::kQueued, Request{run, std::move(seqs), max_bytes}, next_order_++,
                std::nullopt, 0};
    queued_.emplace_back(run.str(), slot.order);
    // Started on first use: a process that never replays a long run has no thread.
    if (!thread_.joinable()) {
      thread_ = std::thread([this] {
        name_this_thread("artana-prefetch");
        serve();
      });
    }
  }
  wake_.notify_one();
}

PayloadPrefetch::Slot* PayloadPrefetch::slot_of(const SlotKey& key) {
  auto it = slots_.find(key.first);
  return it == slots_.end() || it->second.order != key.second ? nullptr : &it->second;
}

std::optional<PayloadPrefetch::Batch> PayloadPrefetch::take(const RunId& run,
                                                            const std::vector<uint64_t>& seqs,
                                                            size_t max_bytes) {
  std::unique_lock<std::mutex> lock(mu_);
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
  lock.unlock();
  if (!hit || !packed) return std::nullopt;
  if (!packed->ok()) return Batch(packed->status());
  return Batch(unpack(std::move(*packed).value()));
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

std::vector<PayloadText> PayloadPrefetch::unpack(Packed&& packed) {
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
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    if (stopping_) break;
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
    done_.notify_all();
  }
  done_.notify_all();
}

}  // namespace artana::kernel::ledger
