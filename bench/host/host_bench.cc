// host_bench: Lua scripts run by the Host (docs/benchmarks.md, "Lua host").
//   host_bench [--json] [--quick] [--dir DIR] [--only GROUP]
// GROUP is cli, live, replay, noio or paused (or the figure's name). Every figure goes through
// Lua: a script on a real LMDB ledger in DIR (default: a new directory under $TMPDIR),
// durability `none`, with its model answered by a Lua model port (artana.model_port), so
// the figures time the binding, the scheduler, the kernel and the ledger, with no network.
#include <fcntl.h>

#include <lua.hpp>

#include <malloc.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "artana/host/host.h"
#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel.h"
#include "artana/kernel/lmdb_event_store.h"
#include "artana/lua/lua_state.h"
#include "artana/lua/script_api.h"
#include "host/bench_host.h"
#include "host/bench_scripts.h"
#include "support/bench_report.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::bench;

namespace {

// lua_live_step_us: whole runs of live model steps; each sample is one run's tick time
// divided by its steps (the port's coroutine, both syscalls' JSON, the kernel, the append).
void bench_live(const Settings& s) {
  const int runs = s.quick ? 3 : 11;
  const int64_t steps = s.quick ? 200 : 2000;
  const std::string script = write_script(s.dir, "live.lua", kModelScript);
  Bench b(s.dir + "/live", {});
  std::vector<double> per_step;
  for (int r = -1; r < runs; ++r) {  // run -1 warms the caches and is not counted
    const std::string run = "live-" + std::to_string(r + 1);
    b.start(script, run, Json::object({{"steps", steps}}));
    const double t0 = now_us();
    b.drive();
    const double elapsed = now_us() - t0;
    b.outcome(run, RunStatus::kCompleted);
    must(b.host->unload(RunId(run)), "unloading a run");
    if (r >= 0) per_step.push_back(elapsed / static_cast<double>(steps));
  }
  report(summarize("lua_live_step_us", "us", per_step), Target{13}, s.json);
}

// replay_10k_steps_s: a completed run of 10 000 model steps executed again by a new Host and
// Kernel on the same ledger; wall time from start() to idle, every step replayed.
void bench_replay(const Settings& s) {
  const int64_t steps = s.quick ? 2000 : 10000;
  const int repeats = s.quick ? 2 : 5;
  const std::string name = s.quick ? "replay_2k_steps_s" : "replay_10k_steps_s";
  const std::string script = write_script(s.dir, "replay.lua", kModelScript);
  Bench b(s.dir + "/replay", {});
  b.start(script, "long", Json::object({{"steps", steps}}));
  const double live_t0 = now_us();
  b.drive();
  const double live_s = (now_us() - live_t0) / 1e6;
  b.outcome("long", RunStatus::kCompleted);
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    b.reopen({});
    const double t0 = now_us();
    b.start(script, "long");
    b.drive();
    times.push_back((now_us() - t0) / 1e6);
    host::RunOutcome again = b.outcome("long", RunStatus::kCompleted);
    const Json* replayed = again.output.find("replayed");
    if (replayed == nullptr || replayed->as_integer() != steps)
      must(Status::internal("a recorded step went live: {}", text(again.output)), "replay");
  }
  info(summarize(s.quick ? "live_2k_steps_s" : "live_10k_steps_s", "s", {live_s}), s.json);
  report(summarize(name, "s", times), Target{s.quick ? 0.006 : 0.03}, s.json);

  // The same re-execution in two parts: the kernel loading the run from the ledger (read,
  // parse, index: what the first syscall pays), then the script with the run loaded.
  std::vector<double> load, after_load;
  for (int i = 0; i < repeats; ++i) {
    b.reopen({});
    double t0 = now_us();
    must(b.kernel->status(TenantId("bench"), RunId("long")), "loading the run");
    load.push_back((now_us() - t0) / 1e6);
    t0 = now_us();
    b.start(script, "long");
    b.drive();
    after_load.push_back((now_us() - t0) / 1e6);
    b.outcome("long", RunStatus::kCompleted);
  }
  const std::string prefix = name.substr(0, name.find("_steps"));
  info(summarize(prefix + "_load_s", "s", load), s.json);
  info(summarize(prefix + "_after_load_s", "s", after_load), s.json);
}

// replayed_noio_syscall_us: a re-execution of a run of 100 000 run:now() (and run:random())
// steps. The script print()s a marker before each block of 1000 calls and the host's print
// sink stamps the time: one sample is one block, divided by its calls. Loading the run and
// compiling the script fall outside the blocks; the whole re-execution per call is printed
// beside it.

void bench_noio_kind(const Settings& s, const std::string& kind, const std::string& name,
                     Target target, int64_t blocks) {
  const int64_t block = 1000;
  const std::string script = write_script(s.dir, "noio.lua", kNoioScript);
  StampPrints markers;
  Bench b(s.dir + "/" + name, markers.options());
  const Json input = Json::object({{"kind", kind}, {"block", block}, {"blocks", blocks}});
  b.start(script, "values", input);
  b.drive();
  b.outcome("values", RunStatus::kCompleted);

  const int64_t expected = blocks + 1;  // a marker before each block and after the last
  std::vector<double> per_call, whole;
  for (int i = 0; i < (s.quick ? 2 : 3); ++i) {
    b.reopen(markers.options());
    markers.stamps.clear();
    markers.stamps.reserve(static_cast<size_t>(expected) + 16);
    markers.recording = true;
    const double t0 = now_us();
    b.start(script, "values");
    b.drive(std::chrono::seconds(600));
    const double elapsed = now_us() - t0;
    markers.recording = false;
    b.outcome("values", RunStatus::kCompleted);
    if (static_cast<int64_t>(markers.stamps.size()) != expected) {
      std::fprintf(stderr, "host_bench: %s: %zu markers, expected %lld\n", name.c_str(),
                   markers.stamps.size(), static_cast<long long>(expected));
      std::exit(1);
    }
    for (int64_t k = 0; k < blocks; ++k) {
      const double span = markers.stamps[k + 1] - markers.stamps[k];
      per_call.push_back(span / static_cast<double>(block));
    }
    whole.push_back(elapsed / static_cast<double>(blocks * block));
  }
  report(summarize(name, "us", per_call), target, s.json);
  info(summarize(name.substr(0, name.size() - 3) + "_whole_reexecution_us", "us", whole), s.json);
}

void bench_noio(const Settings& s) {
  const int64_t blocks = s.quick ? 20 : 100;  // of 1000 calls
  bench_noio_kind(s, "now", "replayed_noio_syscall_us", Target{1}, blocks);
  bench_noio_kind(s, "random", "replayed_random_syscall_us", Target{1}, blocks);
  // The same in a run of 10 000 calls: the per-call cost grows with the run's length.
  if (!s.quick) bench_noio_kind(s, "now", "replayed_noio_syscall_at_10k_us", Target{0, true}, 10);
}

// paused_run_bytes: runs paused at run:pause, all held by one Host. Each sample is one batch
// of runs: the growth of the process's resident memory over the batch, per run. Anonymous
// memory (resident minus file-backed) is the figure: the ledger's pages are mapped from the
// file and are the page cache's, not the run's; the total is printed beside it.

struct Rss {
  double resident = 0, anonymous = 0;  // bytes
};

Rss read_rss() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  unsigned long long size = 0, resident = 0, shared = 0;
  if (f == nullptr || std::fscanf(f, "%llu %llu %llu", &size, &resident, &shared) != 3) {
    std::fprintf(stderr, "host_bench: cannot read /proc/self/statm\n");
    std::exit(1);
  }
  std::fclose(f);
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  return Rss{resident * page, (resident - shared) * page};
}

void bench_paused(const Settings& s) {
  const int batches = 10;
  const int per_batch = s.quick ? 100 : 1000;
  const std::string script = write_script(s.dir, "paused.lua", kPausedScript);
  std::vector<double> lua_bytes;
  host::HostOptions options;
  options.print_sink = [&lua_bytes](const RunId&, std::string_view line) {
    lua_bytes.push_back(std::strtod(std::string(line).c_str(), nullptr));
  };
  Bench b(s.dir + "/paused", options);
  int next = 0;
  auto start_batch = [&](int n) {
    for (int i = 0; i < n; ++i) b.start(script, "paused-" + std::to_string(next++));
    b.drive();
  };
  start_batch(per_batch / 10);  // warm-up: first-use allocations, held but not counted
  lua_bytes.clear();
  // Free heap kept from earlier groups would absorb the first batch without growing RSS.
  ::malloc_trim(0);
  std::vector<double> anon, total;
  const Rss base = read_rss();
  Rss before = base;
  for (int k = 0; k < batches; ++k) {
    start_batch(per_batch);
    const Rss after = read_rss();
    anon.push_back((after.anonymous - before.anonymous) / per_batch);
    total.push_back((after.resident - before.resident) / per_batch);
    before = after;
  }
  for (int i = 0; i < next; ++i) b.outcome("paused-" + std::to_string(i), RunStatus::kPaused);
  if (!s.json)
    std::printf("(%d runs held; anonymous RSS grew %.1f MiB, resident %.1f MiB)\n", next,
                (before.anonymous - base.anonymous) / (1 << 20),
                (before.resident - base.resident) / (1 << 20));
  report(summarize("paused_run_bytes", "bytes", anon), Target{64 * 1024}, s.json);
  info(summarize("paused_run_resident_bytes", "bytes", total), s.json);
  info(summarize("paused_run_lua_heap_bytes", "bytes", lua_bytes), s.json);

  // What every run's lua_State holds before its script loads, garbage collected: the
  // sandbox (allowed libraries, environment), then the script API (artana module, run
  // object, require).
  auto collected = [](lua::LuaState& state) {
    lua_gc(state.state(), LUA_GCCOLLECT);
    return static_cast<double>(state.memory_used());
  };
  auto state = must(lua::LuaState::create(lua::LuaLimits{}), "creating a lua_State");
  info(summarize("lua_sandbox_state_bytes", "bytes", {collected(*state)}), s.json);
  must(lua::install_script_api(*state, nullptr), "installing the script API");
  info(summarize("lua_state_with_script_api_bytes", "bytes", {collected(*state)}), s.json);
}

}  // namespace

// cli_first_step_ms: a new `artana` process on a new data directory runs a one-step script
// (run:now) and exits: process start, opening (creating) the ledger, the step, the end.
void bench_cli(const Settings& s) {
  const std::string script =
      write_script(s.dir, "one_step.lua", "return function(run) return run:now() end\n");
  std::vector<double> times;
  const int n = s.quick ? 5 : 21;
  for (int i = 0; i < n; ++i) {
    const std::string data = s.dir + "/cli-" + std::to_string(i);
    const char* argv[] = {ARTANA_CLI, "--data", data.c_str(), "run", script.c_str(), nullptr};
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    const double t0 = now_us();
    pid_t pid = 0;
    if (posix_spawn(&pid, ARTANA_CLI, &actions, nullptr, const_cast<char* const*>(argv), environ) !=
        0) {
      must(Status::internal("cannot start {}", ARTANA_CLI), "cli_first_step_ms");
    }
    int status = 0;
    waitpid(pid, &status, 0);
    times.push_back((now_us() - t0) / 1000);
    posix_spawn_file_actions_destroy(&actions);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      must(Status::internal("the one-step run exited {}", status), "cli_first_step_ms");
    }
  }
  report(summarize("cli_first_step_ms", "ms", times), Target{10}, s.json);
}

int main(int argc, char** argv) {
  const Settings s = parse_settings(argc, argv, "cli|live|replay|noio|paused", "artana-hbench");
  info(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  if (s.wants("cli", "cli_first_step_ms")) bench_cli(s);
  if (s.wants("live", "lua_live_step_us")) bench_live(s);
  if (s.wants("replay", "replay_10k_steps_s")) bench_replay(s);
  if (s.wants("noio", "replayed_noio_syscall_us")) bench_noio(s);
  // Last: it holds thousands of runs and grows the heap.
  if (s.wants("paused", "paused_run_bytes")) bench_paused(s);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
