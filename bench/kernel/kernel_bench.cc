// kernel_bench: the kernel's step path (docs/benchmarks.md).
//   kernel_bench [--json] [--quick] [--dir DIR]
// A scripted model port (no network) answers every call, so the figures time the kernel and
// the ledger: live steps, replayed steps, long runs, a side-effecting tool in `effects`
// mode, and the enforced middleware chain.
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"
#include "middleware/pii_scanner.h"
#include "support/bench_report.h"
#include "support/bench_settings.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::bench;

namespace {

template <typename T>
T must(Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "kernel_bench: %s: %s\n", what, r.status().to_string().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

void must(const Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "kernel_bench: %s: %s\n", what, s.to_string().c_str());
    std::exit(1);
  }
}

std::unique_ptr<EventStore> open(const std::string& dir, Durability durability) {
  std::filesystem::remove_all(dir);
  LmdbStoreOptions options;
  options.durability = durability;
  return must(open_lmdb_store(dir, options), "opening the ledger");
}

ModelOutcome scripted_answer(const ModelCall& call) {
  ModelOutcome out;
  out.output = Json::object({{"text", "ok: " + call.step_key}});
  out.usage = Json::object({{"prompt_tokens", 12}, {"completion_tokens", 3}});
  out.cost_micro_usd = 10;
  return out;
}

ModelRequest request(uint64_t n, const std::string& prompt) {
  ModelRequest r;
  r.step_key = "turn_" + std::to_string(n);
  r.model = "scripted";
  r.prompt = prompt;
  return r;
}

// One live model step: begin (index lookup, identity), the scripted port, finish (append).
double live_step(Kernel& kernel, const std::string& run, uint64_t n, const std::string& prompt) {
  double start = now_us();
  ModelStep step =
      must(kernel.begin_model(TenantId("bench"), RunId(run), request(n, prompt)), "begin_model");
  if (!step.call) must(Status::internal("a live step replayed"), "live_step");
  must(kernel.finish_model(std::move(step.pending), scripted_answer(*step.call)), "finish_model");
  return now_us() - start;
}

StartRunRequest start(const std::string& run, std::optional<int64_t> budget = {}) {
  StartRunRequest r;
  r.run_id = RunId(run);
  r.tenant.tenant_id = TenantId("bench");
  r.tenant.budget_micro_usd = budget;
  return r;
}

const std::string kPrompt = "Summarise the ticket and propose the next step for the agent.";

void bench_model_steps(const Settings& s) {
  const int samples = s.quick ? 300 : 3000;
  const uint64_t far = s.quick ? 5'000 : 100'000;
  auto store = open(s.dir + "/model", Durability::kNone);
  {
    auto opened = must(Kernel::open(*store), "opening the kernel");
    Kernel& kernel = *opened;
    must(kernel.start_run(start("long")), "start_run");
    std::vector<double> near, at_far;
    uint64_t n = 0;
    for (; n < 100; ++n) live_step(kernel, "long", n, kPrompt);
    for (int i = 0; i < samples; ++i, ++n) near.push_back(live_step(kernel, "long", n, kPrompt));
    print(summarize("live_model_step_us", "us", near), s.json);
    for (; n < far; ++n) live_step(kernel, "long", n, kPrompt);
    for (int i = 0; i < samples; ++i, ++n) at_far.push_back(live_step(kernel, "long", n, kPrompt));
    print(summarize(s.quick ? "live_model_step_at_5k_us" : "live_model_step_at_100k_us", "us",
                    at_far),
          s.json);
  }
  // A new kernel loads the run once (not timed), then every step replays from the index.
  auto replaying_kernel = must(Kernel::open(*store), "opening the kernel");
  Kernel& replaying = *replaying_kernel;
  must(replaying.status(TenantId("bench"), RunId("long")), "loading the run");
  std::vector<double> replayed;
  for (uint64_t n = 0; n < static_cast<uint64_t>(samples); ++n) {
    ModelRequest r = request(n, kPrompt);
    double t0 = now_us();
    ModelStep step = must(replaying.begin_model(TenantId("bench"), RunId("long"), r), "replay");
    double elapsed = now_us() - t0;
    if (!step.replayed) must(Status::internal("a recorded step went live"), "replay");
    replayed.push_back(elapsed);
  }
  print(summarize("replayed_model_step_us", "us", replayed), s.json);
}

// Value steps (time, random): live they append one event; replayed they are a lookup.
void bench_value_steps(const Settings& s) {
  const int samples = s.quick ? 300 : 3000;
  auto store = open(s.dir + "/value", Durability::kNone);
  auto clock = [] { return Result<Json>(Json(int64_t{1700000000000})); };
  std::vector<double> live, replayed;
  {
    auto opened = must(Kernel::open(*store), "opening the kernel");
    Kernel& kernel = *opened;
    must(kernel.start_run(start("values")), "start_run");
    for (int i = 0; i < samples; ++i) {
      double t0 = now_us();
      must(kernel.value_step(TenantId("bench"), RunId("values"), "time:" + std::to_string(i),
                             ValueKind::kTime, clock),
           "value_step");
      live.push_back(now_us() - t0);
    }
  }
  auto replaying_kernel = must(Kernel::open(*store), "opening the kernel");
  Kernel& replaying = *replaying_kernel;
  must(replaying.status(TenantId("bench"), RunId("values")), "loading the run");
  std::vector<std::string> keys;
  for (int i = 0; i < samples; ++i) keys.push_back("time:" + std::to_string(i));
  for (int i = 0; i < samples; ++i) {
    double t0 = now_us();
    ValueStep step = must(
        replaying.value_step(TenantId("bench"), RunId("values"), keys[i], ValueKind::kTime, clock),
        "replayed value_step");
    replayed.push_back(now_us() - t0);
    if (!step.replayed) must(Status::internal("a recorded value went live"), "replay");
  }
  print(summarize("live_value_step_us", "us", live), s.json);
  print(summarize("replayed_value_step_us", "us", replayed), s.json);
  // What a replay's read of one recorded result costs, and the run lookup inside it.
  std::vector<double> reads, heads;
  for (int i = 0; i < samples; ++i) {
    double t0 = now_us();
    must(store->read_event(RunId("values"), static_cast<uint64_t>(i) + 2), "read_event");
    reads.push_back(now_us() - t0);
    t0 = now_us();
    must(store->head(RunId("values")), "head");
    heads.push_back(now_us() - t0);
  }
  print(summarize("read_event_us", "us", reads), s.json);
  std::vector<double> batched;
  for (int i = 0; i + 64 < samples; i += 64) {
    std::vector<uint64_t> seqs;
    for (int j = 0; j < 64; ++j) seqs.push_back(static_cast<uint64_t>(i + j) + 2);
    double t0 = now_us();
    must(store->read_payloads(RunId("values"), seqs), "read_payloads");
    batched.push_back((now_us() - t0) / 64);
  }
  print(summarize("read_payloads_batch_of_64_per_event_us", "us", batched), s.json);
  print(summarize("run_head_us", "us", heads), s.json);
}

// A side-effecting tool in `effects` mode: the request's commit and forced sync, the tool
// (nothing), then the completion's commit.
void bench_tool_effects(const Settings& s) {
  auto store = open(s.dir + "/tool", Durability::kEffects);
  auto opened = must(Kernel::open(*store), "opening the kernel");
  Kernel& kernel = *opened;
  must(kernel.tools().add({"charge", "charges", Json::object({{"type", "object"}}), "1", "", true}),
       "registering a tool");
  must(kernel.start_run(start("tools")), "start_run");
  std::vector<double> times;
  const int samples = s.quick ? 30 : 300;
  for (int i = 0; i < samples; ++i) {
    ToolRequest r;
    r.step_key = "pay_" + std::to_string(i);
    r.tool = "charge";
    r.arguments = Json::object({{"amount", i}});
    double t0 = now_us();
    ToolStep step = must(kernel.begin_tool(TenantId("bench"), RunId("tools"), r), "begin_tool");
    ToolOutcome done;
    done.result = Json::object({{"ok", true}});
    must(kernel.finish_tool(std::move(step.pending), done), "finish_tool");
    times.push_back(now_us() - t0);
  }
  print(summarize("live_tool_step_effects_us", "us", times), s.json);
}

// The same live step with and without the enforced chain (PII on a 1 KiB prompt holding
// an email and a phone number, quota, capability guard); the figure is the difference of
// the medians.
void bench_middleware(const Settings& s) {
  std::string prompt = "Customer jane.doe@example.com called from +1 415-555-0132 about order. ";
  while (prompt.size() < 1024) prompt += "The agent reviews the history and drafts a reply. ";
  prompt.resize(1024);
  const int samples = s.quick ? 300 : 3000;
  auto measure = [&](bool enforced, const std::string& name) {
    auto store = open(s.dir + "/" + name, Durability::kNone);
    KernelOptions options;
    if (enforced) {
      options.mode = PolicyMode::kEnforced;
      options.middleware = {make_pii_scrubber(), make_quota_guard(), make_capability_guard()};
    }
    auto kernel = must(Kernel::open(*store, options), "opening the kernel");
    must(kernel->start_run(start("mw", int64_t{1} << 50)), "start_run");
    std::vector<double> times;
    for (int i = 0; i < 100 + samples; ++i) {
      double t = live_step(*kernel, "mw", static_cast<uint64_t>(i), prompt);
      if (i >= 100) times.push_back(t);
    }
    return summarize(name, "us", times);
  };
  Figure plain = measure(false, "live_step_1k_prompt_permissive_us");
  Figure enforced = measure(true, "live_step_1k_prompt_enforced_us");
  print(plain, s.json);
  print(enforced, s.json);
  print(summarize("middleware_enforced_overhead_us", "us", {enforced.median - plain.median}),
        s.json);
}

// load_10k_steps_ms: a new kernel loads a completed run of 10 000 model steps (what the first
// syscall of a re-execution pays) — from the step index, reading no step's payload.
// loaded_bytes_per_step: what a loaded 1 000-turn chat holds per step while its history grows
// by a message each turn (the last request holds every message).
void bench_load(const Settings& s) {
  const uint64_t steps = s.quick ? 2'000 : 10'000;
  auto store = open(s.dir + "/load", Durability::kNone);
  {
    auto opened = must(Kernel::open(*store), "opening the kernel");
    Kernel& kernel = *opened;
    must(kernel.start_run(start("long")), "start_run");
    for (uint64_t n = 0; n < steps; ++n) live_step(kernel, "long", n, kPrompt);
    must(kernel.complete(TenantId("bench"), RunId("long"), Json("done")), "complete");
  }
  std::vector<double> load_ms;
  for (int i = 0; i < (s.quick ? 3 : 7); ++i) {
    auto fresh_kernel = must(Kernel::open(*store), "opening the kernel");
    Kernel& fresh = *fresh_kernel;
    double t0 = now_us();
    must(fresh.status(TenantId("bench"), RunId("long")), "loading the run");
    load_ms.push_back((now_us() - t0) / 1000);
  }
  print(summarize(s.quick ? "load_2k_steps_ms" : "load_10k_steps_ms", "ms", load_ms), s.json);

  const int turns = s.quick ? 200 : 1000;
  {
    auto opened = must(Kernel::open(*store), "opening the kernel");
    Kernel& kernel = *opened;
    must(kernel.start_run(start("chat")), "start_run");
    Json history = Json::array();
    for (int turn = 0; turn < turns; ++turn) {
      history.push_back(Json::object(
          {{"role", "user"},
           {"content", "turn " + std::to_string(turn) + ": " + std::string(300, 'm')}}));
      ModelRequest r;
      r.step_key = "turn_" + std::to_string(turn);
      r.model = "scripted";
      r.messages = history;
      ModelStep step = must(kernel.begin_model(TenantId("bench"), RunId("chat"), r), "chat");
      if (!step.call) must(Status::internal("a live chat turn replayed"), "chat");
      must(kernel.finish_model(std::move(step.pending), scripted_answer(*step.call)), "chat");
    }
  }
  auto fresh_kernel = must(Kernel::open(*store), "opening the kernel");
  Kernel& fresh = *fresh_kernel;
  double t0 = now_us();
  must(fresh.status(TenantId("bench"), RunId("chat")), "loading the chat");
  const double chat_load_ms = (now_us() - t0) / 1000;
  KernelStats stats = fresh.stats();
  const double per_step = static_cast<double>(stats.bytes_held) /
                          static_cast<double>(std::max<size_t>(1, stats.steps_held));
  print(summarize(s.quick ? "loaded_bytes_per_step_200_turns" : "loaded_bytes_per_step", "B",
                  {per_step}),
        s.json);
  print(summarize(s.quick ? "load_200_turn_chat_ms" : "load_1k_turn_chat_ms", "ms", {chat_load_ms}),
        s.json);
}

// pii_scan_1kib_ns: the PII scanner over a kilobyte of prose, of ids, hashes and times (the
// look-alikes it must not take), and of text holding PII. Budget: well under 2 µs per KiB.
void bench_pii_scan(const Settings& s) {
  const std::string prose =
      "Thanks for the update. I have reviewed the draft and left a few comments on the second "
      "section; the summary reads well, but the figures need a source. ";
  const std::string numbers =
      "The quarterly report (v2.3.1, generated 2026-11-24T10:00:00Z) lists 1234567890 events "
      "across 42 regions; run id 550e8400-e29b-41d4-a716-446655440000 hashed to "
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08. ";
  const std::string pii =
      "Contact jane.doe@example.com or +1 415-555-0132, card 4111 1111 1111 1111, SSN "
      "123-45-6789, key sk-abcdefghij0123456789. ";
  const std::pair<const char*, std::string> texts[] = {
      {"pii_scan_1kib_prose_ns", prose},
      {"pii_scan_1kib_ids_hashes_times_ns", numbers},
      {"pii_scan_1kib_with_pii_ns", prose + numbers + pii}};
  const int rounds = s.quick ? 2000 : 20000;
  for (const auto& [name, unit] : texts) {
    std::string text;
    while (text.size() < 1024) text += unit;
    text.resize(1024);
    std::vector<double> samples;
    size_t spans = 0;
    for (int block = 0; block < 20; ++block) {
      const double t0 = now_us();
      for (int r = 0; r < rounds / 20; ++r) spans += find_pii(text).size();
      samples.push_back((now_us() - t0) * 1000 / (rounds / 20));
    }
    if (spans == 0 && std::string(name) == "pii_scan_1kib_with_pii_ns") {
      must(Status::internal("the scanner found no PII in text holding some"), "pii scan");
    }
    print(summarize(name, "ns", samples), s.json);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_settings(
      argc, argv, "load|model_steps|value_steps|tool_effects|middleware|pii_scan", "artana-kbench");
  print(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  if (s.wants("load")) bench_load(s);
  if (s.wants("model_steps")) bench_model_steps(s);
  if (s.wants("value_steps")) bench_value_steps(s);
  if (s.wants("tool_effects")) bench_tool_effects(s);
  if (s.wants("middleware")) bench_middleware(s);
  if (s.wants("pii_scan")) bench_pii_scan(s);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
