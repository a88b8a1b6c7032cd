#include "ledger/payload_prefetch.h"

#include "ledger/worker_stop.h"

namespace artana::kernel::ledger {

PayloadPrefetch::~PayloadPrefetch() { stop_worker(mu_, wake_, stopping_, thread_); }

void PayloadPrefetch::start(const RunId& run, std::vector<uint64_t> seqs, size_t max_bytes) {
  if (seqs.empty()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    queued_ = Request{run, std::move(seqs), max_bytes};
    finished_.reset();  // not taken by now: the replay went elsewhere
    result_.reset();
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

std::optional<PayloadPrefetch::Batch> PayloadPrefetch::take(const RunId& run,
                                                            const std::vector<uint64_t>& seqs,
                                                            size_t max_bytes) {
  std::unique_lock<std::mutex> lock(mu_);
  if (queued_ && queued_->matches(run, seqs, max_bytes)) {
    queued_.reset();  // the thread has not begun it: the caller reads it sooner itself
    return std::nullopt;
  }
  if (reading_ && reading_->matches(run, seqs, max_bytes)) {
    done_.wait(lock, [&] { return !reading_.has_value(); });
  }
  if (!finished_ || !finished_->matches(run, seqs, max_bytes)) return std::nullopt;
  finished_.reset();
  Result<Packed> packed = std::move(*result_);
  result_.reset();
  lock.unlock();
  if (!packed.ok()) return Batch(packed.status());
  return Batch(unpack(std::move(packed).value()));
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

void PayloadPrefetch::serve() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || queued_.has_value(); });
    if (stopping_) break;
    reading_ = std::move(queued_);
    queued_.reset();
    lock.unlock();
    Batch batch = read_(reading_->run, reading_->seqs, reading_->max_bytes);
    Result<Packed> packed = batch.ok() ? Result<Packed>(pack(std::move(batch).value()))
                                       : Result<Packed>(batch.status());
    batch = Batch(std::vector<PayloadText>());  // its strings freed here, by their thread
    lock.lock();
    ++batches_read_;
    finished_ = std::move(reading_);
    reading_.reset();
    result_.emplace(std::move(packed));
    done_.notify_all();
  }
  done_.notify_all();
}

}  // namespace artana::kernel::ledger
