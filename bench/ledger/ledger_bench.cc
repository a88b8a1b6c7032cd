// ledger_bench: the append path of the LMDB ledger, per durability mode (docs/benchmarks.md).
//   ledger_bench [--json] [--quick] [--dir DIR] [--only GROUP]
// DIR (default: a new directory under $TMPDIR) should be on the disk the ledger will use:
// fsync_us is measured there and every durable figure scales with it.
#include <stdlib.h>

#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/lmdb_event_store.h"
#include "support/bench_report.h"
#include "support/bench_settings.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::bench;

namespace {

// Pseudo-English text, so payloads look like model traffic rather than one repeated byte.
std::string words(std::mt19937& rng, size_t bytes) {
  static const char* kWords[] = {"the",   "agent", "reads", "ledger", "and",    "plans",
                                 "next",  "step",  "tool",  "result", "checks", "policy",
                                 "shard", "of",    "a",     "model",  "reply",  "summary"};
  std::string out;
  while (out.size() < bytes) {
    out += kWords[rng() % (sizeof kWords / sizeof *kWords)];
    out += ' ';
  }
  out.resize(bytes);
  return out;
}

// A model step: the request and its completion. With the default text sizes the two payloads
// are ≈ 512 bytes each; bench_bytes also uses ≈ 1 KiB each.
std::vector<EventDraft> model_step(std::mt19937& rng, uint64_t n, size_t prompt_bytes = 380,
                                   size_t output_bytes = 420) {
  std::string key = "turn_" + std::to_string(n);
  return {
      {"model_requested",
       Json::object({{"step_key", key},
                     {"model", "demo-model"},
                     {"prompt", words(rng, prompt_bytes)},
                     {"options", Json::object({{"temperature", 0.2}, {"max_tokens", 512}})}})},
      {"model_completed",
       Json::object({{"step_key", key},
                     {"output", Json::object({{"text", words(rng, output_bytes)}})},
                     {"usage", Json::object({{"prompt_tokens", 96}, {"completion_tokens", 105}})},
                     {"cost_micro_usd", 1250}})},
  };
}

size_t payload_bytes(const std::vector<EventDraft>& drafts) {
  size_t total = 0;
  for (const EventDraft& d : drafts) total += canonical_json(d.payload)->size();
  return total;
}

std::unique_ptr<EventStore> open(const std::string& dir, Durability durability) {
  LmdbStoreOptions options;
  options.durability = durability;
  auto store = open_lmdb_store(dir, options);
  if (!store.ok()) {
    std::fprintf(stderr, "ledger_bench: %s\n", store.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(store).value();
}

void create(EventStore& store, const std::string& run) {
  RunHeader header;
  header.run_id = RunId(run);
  header.tenant_id = TenantId("bench");
  if (!store.create_run(header).ok()) std::exit(1);
}

// Appends one step and returns its latency in microseconds.
double timed_step(EventStore& store, const std::string& run, std::vector<EventDraft> drafts,
                  uint64_t& epoch) {
  AppendRequest req;
  req.run_id = RunId(run);
  req.lease_epoch = epoch;
  req.drafts = std::move(drafts);
  double start = now_us();
  auto done = store.append(std::move(req));
  double elapsed = now_us() - start;
  if (!done.ok()) {
    std::fprintf(stderr, "ledger_bench: %s\n", done.status().to_string().c_str());
    std::exit(1);
  }
  epoch = done->lease_epoch;
  return elapsed;
}

std::string fresh_dir(const Settings& s, const std::string& name) {
  std::string dir = s.dir + "/" + name;
  std::filesystem::remove_all(dir);
  return dir;
}

// append_none_us, and the same at run length 100 000 (flat = O(1) in the run's length).
void bench_run_length(const Settings& s) {
  std::mt19937 rng(1);
  std::string dir = fresh_dir(s, "none");
  auto store = open(dir, Durability::kNone);
  create(*store, "long");
  uint64_t epoch = 0;
  const uint64_t far = s.quick ? 5'000 : 100'000;
  const int samples = s.quick ? 500 : 2'000;
  // Pre-generate payloads so the figures time the ledger, not the text generator.
  std::vector<std::vector<EventDraft>> steps;
  for (int i = 0; i < samples; ++i) steps.push_back(model_step(rng, i));
  for (uint64_t n = 0; n < 100; ++n) timed_step(*store, "long", steps[n % samples], epoch);
  std::vector<double> near_times;
  for (int i = 0; i < samples; ++i)
    near_times.push_back(timed_step(*store, "long", steps[i], epoch));
  print(summarize("append_none_us", "us", near_times), s.json);
  for (uint64_t n = 100 + samples; n < far; ++n)
    timed_step(*store, "long", steps[n % samples], epoch);
  std::vector<double> far_times;
  for (int i = 0; i < samples; ++i)
    far_times.push_back(timed_step(*store, "long", steps[i], epoch));
  print(summarize(s.quick ? "append_at_5k_us" : "append_at_100k_us", "us", far_times), s.json);
}

// Steps per second of one run, and of 64 runs on 64 threads sharing commits. The threads
// exist before the clock starts and wait at a gate, so the figure times appends, not
// thread creation.
void bench_durable_full(const Settings& s) {
  std::mt19937 rng(2);
  std::vector<EventDraft> step = model_step(rng, 0);
  const int rounds = s.quick ? 2 : 5;
  const int steps_1 = s.quick ? 20 : 100;
  const int steps_64 = s.quick ? 5 : 25;
  std::string dir = fresh_dir(s, "full");
  auto store = open(dir, Durability::kFull);
  for (int r = 0; r < 64; ++r) create(*store, "run-" + std::to_string(r));
  std::vector<uint64_t> epochs(64, 0);
  std::vector<double> one, many;
  for (int round = 0; round < rounds; ++round) {
    double start = now_us();
    for (int i = 0; i < steps_1; ++i) timed_step(*store, "run-0", step, epochs[0]);
    one.push_back(steps_1 / ((now_us() - start) / 1e6));

    std::mutex mu;
    std::condition_variable cv;
    int ready = 0;
    bool go = false;
    std::vector<std::thread> threads;
    for (int t = 0; t < 64; ++t) {
      threads.emplace_back([&, t] {
        const std::string run = "run-" + std::to_string(t);
        {
          std::unique_lock<std::mutex> lock(mu);
          ++ready;
          cv.notify_all();
          cv.wait(lock, [&] { return go; });
        }
        for (int i = 0; i < steps_64; ++i) timed_step(*store, run, step, epochs[t]);
      });
    }
    {
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return ready == 64; });
      go = true;
      start = now_us();
    }
    cv.notify_all();
    for (auto& th : threads) th.join();
    many.push_back(64.0 * steps_64 / ((now_us() - start) / 1e6));
  }
  print(summarize("durable_full_1run_steps_per_s", "steps/s", one), s.json);
  print(summarize("durable_full_64runs_steps_per_s", "steps/s", many), s.json);
}

void bench_effects(const Settings& s) {
  std::mt19937 rng(3);
  std::string dir = fresh_dir(s, "effects");
  auto store = open(dir, Durability::kEffects);
  create(*store, "run");
  uint64_t epoch = 0;
  std::vector<double> times;
  const int samples = s.quick ? 30 : 300;
  for (int i = 0; i < samples; ++i)
    times.push_back(timed_step(*store, "run", model_step(rng, i), epoch));
  print(summarize("effects_1run_step_us", "us", times), s.json);
}

// Ledger bytes per event for model steps, against their payload bytes: the figure
// with ≈ 1 KiB payloads per event, and the same with ≈ 512-byte payloads, where the fixed
// envelope (ids, prev_hash, timestamp: ≈ 290 bytes that the hash must cover) weighs more.
void bench_bytes(const Settings& s, const std::string& suffix, size_t prompt_bytes,
                 size_t output_bytes) {
  std::mt19937 rng(4);
  std::string dir = fresh_dir(s, "bytes" + suffix);
  const int steps = s.quick ? 1'000 : 10'000;
  size_t payload = 0;
  double used = 0;
  {
    auto store = open(dir, Durability::kNone);
    create(*store, "run");
    uint64_t epoch = 0;
    for (int i = 0; i < steps; ++i) {
      std::vector<EventDraft> step = model_step(rng, i, prompt_bytes, output_bytes);
      payload += payload_bytes(step);
      timed_step(*store, "run", std::move(step), epoch);
    }
    if (!store->sync().ok()) std::exit(1);
    auto stats = store->storage_stats();
    if (!stats.ok()) std::exit(1);
    // Pages in use, not the file's size: the file is zero-filled ahead of them.
    used = static_cast<double>(stats->used_bytes);
  }
  const double events = 2.0 * steps;
  print(summarize("bytes_per_event" + suffix, "bytes", {used / events}), s.json);
  print(summarize("payload_bytes_per_event" + suffix, "bytes", {payload / events}), s.json);
  print(summarize("bytes_per_event_ratio" + suffix, "x", {used / static_cast<double>(payload)}),
        s.json);
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s =
      parse_settings(argc, argv, "run_length|effects|durable_full|bytes", "artana-bench");
  print(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  print(measure_fsync_scattered_us(s.dir, 8, s.quick ? 20 : 200), s.json);
  if (s.wants("run_length")) bench_run_length(s);
  if (s.wants("effects")) bench_effects(s);
  if (s.wants("durable_full")) bench_durable_full(s);
  if (s.wants("bytes")) {
    bench_bytes(s, "", 880, 920);
    bench_bytes(s, "_512", 380, 420);
  }
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
