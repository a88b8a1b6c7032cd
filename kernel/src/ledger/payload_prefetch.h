// PayloadPrefetch: reads a replay's next batch of recorded results on another thread while
// the script consumes the current batch.
//
// Why: a replayed step reads its result from the log: the entry's page (the first touch of a
// page of a new mapping is a fault, 1.5–2.5 µs on this project's VMs), its bytes (cache
// misses: the log is far larger than the cache), the SHA-256 check of the stored event and
// its layout. That was about a third of a replayed model step on the replaying thread. The
// kernel knows which results come next (its loaded steps, in log order) and says so
// (EventStore::prefetch_payload_texts); this thread reads them with the store's own reader,
// each checked exactly as a read on the caller's thread is, and hands the batch over when it
// is asked for. Nothing is cached beyond that one batch: a read not prefetched is read on the
// caller's thread as before.
//
// One request at a time: a start() while a read is under way queues the newest request
// (replacing a queued one nobody took); a finished read not taken by the next start() is
// dropped. Thread-safe. The thread starts with the first start() and stops in the
// destructor, which must run before the environment the reader uses closes.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "artana/kernel/event_store.h"

namespace artana::kernel::ledger {

class PayloadPrefetch {
 public:
  using Batch = Result<std::vector<PayloadText>>;
  // The store's synchronous read (EventStore::read_payload_texts without the prefetch).
  using Read = std::function<Batch(const RunId&, const std::vector<uint64_t>&, size_t)>;

  explicit PayloadPrefetch(Read read) : read_(std::move(read)) {}
  ~PayloadPrefetch();
  PayloadPrefetch(const PayloadPrefetch&) = delete;
  PayloadPrefetch& operator=(const PayloadPrefetch&) = delete;

  // Begins reading `seqs` of `run` (at most `max_bytes` of payloads, as the read would).
  void start(const RunId& run, std::vector<uint64_t> seqs, size_t max_bytes);
  // The prefetched read of exactly (run, seqs, max_bytes), waiting if it is under way; nullopt
  // when it was not asked for (or not begun yet: reading it here is then quicker).
  std::optional<Batch> take(const RunId& run, const std::vector<uint64_t>& seqs, size_t max_bytes);
  // Batches read by the thread so far (tests).
  uint64_t batches_read() const;

 private:
  struct Request {
    RunId run;
    std::vector<uint64_t> seqs;
    size_t max_bytes = 0;
    bool matches(const RunId& r, const std::vector<uint64_t>& s, size_t m) const {
      return run == r && seqs == s && max_bytes == m;
    }
  };
  // A batch as the thread hands it over: every text in one buffer. Why: memory malloc'd by
  // one thread and freed by another goes back to the first thread's arena under its lock;
  // with a string per result that contention cost the replaying thread more than the read
  // the thread saved it. take() copies the texts out on the caller's thread.
  struct Packed {
    struct Entry {
      uint64_t seq = 0;
      size_t type_at = 0, type_len = 0, text_at = 0, text_len = 0;
      Json payload;  // an expanded payload (rare: large values)
    };
    std::string bytes;
    std::vector<Entry> entries;
  };
  static Packed pack(std::vector<PayloadText>&& texts);
  static std::vector<PayloadText> unpack(Packed&& packed);
  void serve();

  Read read_;
  mutable std::mutex mu_;
  std::condition_variable wake_;  // the thread: a request queued, or stopping
  std::condition_variable done_;  // take(): the read under way finished
  std::optional<Request> queued_, reading_, finished_;
  std::optional<Result<Packed>> result_;  // finished_'s
  uint64_t batches_read_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace artana::kernel::ledger
