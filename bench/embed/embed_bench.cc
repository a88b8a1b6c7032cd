// embed_bench: the host as a game or tool engine drives it, through the C API (artana.h)
// (docs/benchmarks.md, "Embedding").
//   embed_bench [--json] [--quick] [--dir DIR] [--only GROUP]
// GROUP is idle, frame or reload (or a figure's name).
//   embed_tick_idle_us: one artana_host_tick with 1 000 live runs, each waiting for its
//     native model port (none ready, nothing due).
//   embed_frame_tick_us (p50, p99, max): samples/embed/npc_loop with 1 000 NPCs and a
//     1 000 µs budget, as its --json reports them, over three runs of 600 frames;
//     embed_frame_tick_p99_reload_us the same with the script hot-reloaded (unchanged)
//     halfway.
//   embed_hot_reload_1000_runs_ms: artana_script_reload of a script with 1 000 live runs,
//     each 10 steps in and waiting for an 11th call, to the last run's report (one thread,
//     ticks without a budget).
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <spdlog/spdlog.h>

#include "artana/artana.h"
#include "steps_script.h"
#include "support/bench_report.h"
#include "support/bench_settings.h"

using namespace artana::bench;

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "embed_bench: %s: %s\n", what, artana_last_error());
  std::exit(1);
}

void check(artana_status status, const char* what) {
  if (status != ARTANA_OK) die(what);
}

// The calls a port was asked, to answer later (or never).
struct Pending {
  std::vector<artana_completion> tokens;
};

void queue_call(void* user, const artana_call*, artana_completion done) {
  static_cast<Pending*>(user)->tokens.push_back(done);
}

struct Bench {
  artana_host* host = nullptr;
  artana_script* script = nullptr;
  Pending pending;

  explicit Bench(const std::string& dir) {
    std::filesystem::remove_all(dir);  // a run id left by an earlier pass would replay, not wait
    artana_options* options = nullptr;
    check(artana_options_create(&options), "options");
    check(artana_options_set(options, "data_dir", dir.c_str()), "data_dir");
    check(artana_options_set(options, "durability", "none"), "durability");
    check(artana_host_create(ARTANA_ABI_VERSION, options, &host), "host");
    artana_options_destroy(options);
    check(artana_model_port_register(host, "brain", queue_call, &pending), "port");
    check(artana_script_load_memory(host, "steps", kStepsScript, sizeof kStepsScript - 1, &script),
          "script");
  }
  ~Bench() { artana_host_destroy(host); }

  void start_runs(int runs, int steps) {
    const std::string input = "{\"steps\":" + std::to_string(steps) + "}";
    for (int i = 0; i < runs; ++i) {
      artana_run* run = nullptr;
      const std::string options = "{\"run_id\":\"r" + std::to_string(i) + "\"}";
      check(artana_run_start(host, script, input.c_str(), options.c_str(), &run), "run_start");
      artana_run_release(run);
    }
  }
  // Ticks until nothing is ready: every run waits for its port then.
  void settle() {
    artana_tick_stats stats{};
    do {
      check(artana_host_tick(host, 100'000, &stats), "tick");
    } while (stats.ready > 0);
  }
  // Answers every call waiting, `answered` times over (each run's next steps).
  void answer_rounds(int rounds) {
    static const char kReply[] = R"({"output":{"text":"ok"}})";
    for (int round = 0; round < rounds; ++round) {
      std::vector<artana_completion> tokens = std::move(pending.tokens);
      pending.tokens.clear();
      for (artana_completion token : tokens)
        check(artana_complete_ok(token, kReply, sizeof kReply - 1), "complete");
      settle();
    }
  }
};

void idle_tick(const Settings& s) {
  Bench bench(s.dir + "/idle");
  bench.start_runs(1000, 1);
  bench.settle();
  if (bench.pending.tokens.size() != 1000) die("not every run waits for its port");
  std::vector<double> samples;
  const int n = s.quick ? 10'000 : 200'000;
  samples.reserve(n);
  artana_tick_stats stats{};
  for (int i = 0; i < n; ++i) {
    const double t0 = now_us();
    artana_host_tick(bench.host, 1000, &stats);
    samples.push_back(now_us() - t0);
  }
  if (stats.resumed != 0) die("an idle tick resumed a task");
  report(summarize("embed_tick_idle_us", "us", std::move(samples)), Target{1.0}, s.json);
}

void hot_reload(const Settings& s) {
  const int repeats = s.quick ? 2 : 5;
  std::vector<double> samples;
  for (int r = 0; r < repeats; ++r) {
    Bench bench(s.dir + "/reload" + std::to_string(r));
    bench.start_runs(1000, 11);
    bench.settle();
    bench.answer_rounds(10);  // 10 steps recorded, the 11th call in flight
    if (bench.pending.tokens.size() != 1000) die("not every run waits for its 11th step");
    struct Told {
      int runs = 0;
      int continued = 0;
    } told;
    auto on_report = [](void* user, const char*, int outcome, const char*) {
      auto* t = static_cast<Told*>(user);
      ++t->runs;
      if (outcome == ARTANA_RELOAD_CONTINUED) ++t->continued;
    };
    const double t0 = now_us();
    check(
        artana_script_reload(bench.script, kStepsScript, sizeof kStepsScript - 1, on_report, &told),
        "reload");
    artana_tick_stats stats{};
    while (told.runs < 1000) check(artana_host_tick(bench.host, 1'000'000, &stats), "tick");
    samples.push_back((now_us() - t0) / 1000.0);
    if (told.continued != 1000) die("a run did not continue after an unchanged reload");
  }
  report(summarize("embed_hot_reload_1000_runs_ms", "ms", std::move(samples)), Target{50.0},
         s.json);
}

// npc_loop's own figures: its tick times under a 1 ms budget with 1 000 NPCs — and with the
// script hot-reloaded (unchanged) halfway, every live run restarting on the ticks after.
// A run's p99 is its 6th-worst frame of 600, so one run is as much the VM's figure as ours:
// each figure is the median of three runs (one with --quick).
struct NpcLoopFigures {
  double p50 = 0, p99 = 0, max = 0;
};

NpcLoopFigures run_npc_loop(const Settings& s, bool reload, int pass) {
  const std::string frames = s.quick ? "120" : "600";
  const std::string reload_at = s.quick ? "60" : "300";
  const std::string dir = s.dir + (reload ? "/npc-reload" : "/npc") + std::to_string(pass);
  std::filesystem::remove_all(dir);
  const std::string command =
      std::string(ARTANA_NPC_LOOP) + " --npcs 1000 --frames " + frames + " --data-dir " + dir +
      " --script " + ARTANA_NPC_SCRIPT +
      (reload ? " --reload-at " + reload_at + ":" + ARTANA_NPC_SCRIPT : std::string()) + " --json";
  FILE* out = ::popen(command.c_str(), "r");
  if (out == nullptr) die("npc_loop");
  char line[4096] = {};
  const bool read = std::fgets(line, sizeof line, out) != nullptr;
  if (::pclose(out) != 0 || !read) die("npc_loop failed");
  auto field = [&line](const char* name) {
    const std::string key = std::string("\"") + name + "\":";
    const char* at = std::strstr(line, key.c_str());
    if (at == nullptr) die("npc_loop's output lacks a figure");
    return std::atof(at + key.size());
  };
  return NpcLoopFigures{field("tick_p50_us"), field("tick_p99_us"), field("tick_max_us")};
}

void frame_ticks(const Settings& s, bool reload) {
  const int passes = s.quick ? 1 : 3;
  std::vector<double> p50, p99, max;
  for (int pass = 0; pass < passes; ++pass) {
    const NpcLoopFigures got = run_npc_loop(s, reload, pass);
    p50.push_back(got.p50);
    p99.push_back(got.p99);
    max.push_back(got.max);
  }
  const std::string suffix = reload ? "_reload_us" : "_us";
  report(summarize("embed_frame_tick_p99" + suffix, "us", std::move(p99)), Target{1200.0}, s.json);
  if (!reload) info(summarize("embed_frame_tick_p50_us", "us", std::move(p50)), s.json);
  info(summarize("embed_frame_tick_max" + suffix, "us", std::move(max)), s.json);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s = parse_settings(argc, argv, "idle|frame|reload", "embed-bench");
  spdlog::set_level(spdlog::level::warn);  // a line per adopted call would time the logger
  info(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  if (s.wants("idle", "embed_tick_idle_us")) idle_tick(s);
  if (s.wants("frame", "embed_frame_tick_p99_us")) frame_ticks(s, false);
  if (s.wants("frame", "embed_frame_tick_p99_reload_us")) frame_ticks(s, true);
  if (s.wants("reload", "embed_hot_reload_1000_runs_ms")) hot_reload(s);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
