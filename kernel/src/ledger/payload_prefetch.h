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
// Requests queue in order, one per run (a newer one for the run replaces one not begun);
// the thread reads them in turn. A finished read waits to be taken — a hot reload queues the
// first batch of every run it restarts, and their replays take them one after the other —
// up to Limits::max_finished batches or max_finished_bytes, the oldest dropped beyond that (a
// replay that went elsewhere leaves its batch to be dropped so). Thread-safe. The thread starts
// with the first start() and stops in the destructor, which must run before the
// environment the reader uses closes.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "artana/kernel/event_store.h"

namespace artana::kernel::ledger {

// How much a PayloadPrefetch holds for the replays to take: requests not begun, batches not
// taken.
struct PrefetchLimits {
  size_t max_queued = 4096;
  size_t max_finished = 4096;
  size_t max_finished_bytes = size_t{64} << 20;
};

class PayloadPrefetch {
 public:
  using Limits = PrefetchLimits;
  using Batch = Result<std::vector<PayloadText>>;
  // The store's synchronous read (EventStore::read_payload_texts without the prefetch).
  using Read = std::function<Batch(const RunId&, const std::vector<uint64_t>&, size_t)>;

  explicit PayloadPrefetch(Read read, Limits limits = {})
      : read_(std::move(read)), limits_(limits) {}
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
  // Waits until every request queued has been read or taken back (tests).
  void wait_idle();

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
  // the thread saved it. take() copies the texts out on the caller's thread and gives the
  // buffer back (spent_) for this thread to free: freed by the caller, it still waited on
  // the arena's lock (about eight sleeps of the ticking thread a reload of 1 000 runs).
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
  static std::vector<PayloadText> unpack(Packed& packed);  // its payloads moved out
  void serve();

  // A run's request, from start() until it is taken or dropped.
  struct Slot {
    enum class State { kQueued, kReading, kFinished } state = State::kQueued;
    Request request;
    uint64_t order = 0;  // which start() made it: the queues name a slot by (run, order)
    std::optional<Result<Packed>> result;
    size_t bytes = 0;  // of a finished result
  };
  using SlotKey = std::pair<std::string, uint64_t>;
  // The slot `key` names, if it is still that one (not taken, replaced or dropped).
  Slot* slot_of(const SlotKey& key);
  void drop_finished_beyond_caps();    // REQUIRES: mu_ held
  void queue_locked(Request request);  // start()'s work; REQUIRES: mu_ held
  void take_outbox_locked();           // the outbox's requests queued; REQUIRES: mu_ held

  Read read_;
  const Limits limits_;
  mutable std::mutex mu_;
  std::condition_variable wake_;                 // the thread: a request queued, or stopping
  std::condition_variable done_;                 // take(): the read under way finished
  std::unordered_map<std::string, Slot> slots_;  // by run id
  std::deque<SlotKey> queued_;                   // in the order to read
  std::deque<SlotKey> finished_;                 // oldest first (the first dropped)
  // Requests start() made while the thread held mu_, in order; queued by the next holder.
  std::mutex outbox_mu_;
  std::vector<Request> outbox_;
  std::atomic<bool> outbox_waiting_{false};
  std::vector<Packed> spent_;               // taken or not hit: freed by the thread
  static constexpr size_t kSpentWake = 32;  // given back: the thread woken to free them
  size_t finished_bytes_ = 0;
  uint64_t next_order_ = 1;
  uint64_t batches_read_ = 0;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace artana::kernel::ledger
