// stdlib_bench: the stdlib's incremental harness against a raw loop (docs/benchmarks.md,
// "Stdlib harness").
//   stdlib_bench [--json] [--quick] [--dir DIR] [--only GROUP]
// GROUP is overhead, scale or lookup (or the figure's name). Every figure is a Lua script on
// a real LMDB ledger in DIR (default: a new directory under $TMPDIR), durability `none`,
// started with Host::start and ticked until idle. A unit's work is one run:tool of a tool
// that returns at once, so the figures time what the harness adds around it.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <sys/resource.h>

#include "artana/host/run_request.h"
#include "host/bench_host.h"
#include "support/bench_report.h"

using namespace artana;
using namespace artana::kernel;
using namespace artana::bench;

namespace {

// The tool the unit scripts register and call once per unit: no side effect, answers at once.
const char kTool[] = R"lua(local artana = require "artana"
artana.tool { name = "touch", description = "Returns its unit", args = { unit = "string" },
              side_effect = false, version = "1", fn = function(args) return { unit = args.unit } end }
)lua";

// input.units units, one per wake, each work_on one run:tool (between_wakes "continue").
const char kHarnessScript[] = R"lua(
local harness = require "artana.harness"
local h = harness.incremental {
  name = "bench",
  define_tasks = function(h, ctx)
    local units = {}
    for i = 1, ctx.input.units do units[i] = { id = "u" .. i, description = "unit " .. i } end
    return units
  end,
  work_on = function(h, unit, ctx) return ctx.run:tool("touch", { unit = unit.id }).result end,
}
return h:entry()
)lua";

// The same tool calls in a plain loop: what the units cost without the harness.
const char kRawScript[] = R"lua(
return function(run, input)
  for i = 1, input.units do run:tool("touch", { unit = "u" .. i }) end
  return input.units
end
)lua";

// The raw loop plus what the harness records per unit, as it records it (a scope per wake,
// harness_wake, task_progress in_progress, the tool, task_progress done, the progress
// artifact, harness_sleep) with values of the same shape, without the
// harness's Lua: it splits the harness's overhead into the recording and the rest.
const char kRecordsScript[] = R"lua(
return function(run, input)
  local n = input.units
  local function counts(done)
    return { pending = n - done, in_progress = 0, done = done, failed = 0 }
  end
  local function progress(id, from, to, done)
    run:summary("task_progress", { unit = id, from = from, to = to, attempt = 1,
                                   counts = counts(done) }, { key = "task/" .. id .. "/" .. to .. "/1" })
  end
  return run:scope("bench", function()
    for i = 1, n do
      local id = "u" .. i
      run:scope("wake:" .. i, function()
        run:summary("harness_wake", { harness = "bench", wake = i, reorientation =
                                        { wake = i, first = i == 1, counts = counts(i - 1) } })
        progress(id, "pending", "in_progress", i - 1)
        run:tool("touch", { unit = id })
        progress(id, "in_progress", "done", i)
        run:artifact("progress", { wake = i, counts = counts(i), current = id })
        run:summary("harness_sleep", { harness = "bench", wake = i, status = "continue" })
      end)
    end
    return n
  end)
end
)lua";

// input.summaries summaries of distinct keys, then blocks of run:lookup (limit 20), one per
// scope, each between two print() markers (StampPrints) so the writing stays out. The run
// pauses before each round of blocks: the bench resumes the two runs it compares in turn,
// so a change in the machine's load falls on both. An unmarked block per scope opens each
// round: the other run has just evicted this one's data from the CPU caches, which costs
// the bigger run more (its first block ~1.5x) and is not what a lookup costs.
const char kLookupScript[] = R"lua(
return function(run, input)
  for i = 1, input.summaries do run:summary("note", { n = i }, { key = "k" .. i }) end
  local function block(scope)
    for i = 1, input.block do
      local found = run:lookup { kind = "note", scope = scope, limit = 20 }
      if #found ~= 20 then error("lookup found " .. #found .. " summaries, expected 20") end
    end
  end
  for b = 1, input.rounds do
    run:pause("next round")
    for _, scope in ipairs(input.scopes) do block(scope) end
    for _, scope in ipairs(input.scopes) do
      print("start")
      block(scope)
      print("end")
    end
  end
end
)lua";

// Writes one of the unit scripts, after the tool they share.
std::string unit_script(const Settings& s, const std::string& name, const char* body) {
  return write_script(s.dir, name, std::string(kTool) + body);
}

// The stdlib as the CLI finds it: $ARTANA_STDLIB, else the source tree's (an A/B of a
// change to the stdlib needs no rebuild).
host::HostOptions stdlib_options(host::HostOptions options = {}) {
  options.stdlib_dir = host::default_stdlib_dir();
  return options;
}

// Minor page faults of this process so far: the first store into (or read of) a page this
// process has not touched yet. They cost 1-2 µs on bare metal and ~14 µs on this project's
// VMs, so a figure that moves between runs is checked against them.
double minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_minflt);
}

// A run's µs from start() to idle, and the page faults the process took meanwhile.
struct Timed {
  double us = 0;
  double faults = 0;
};

double median_of(std::vector<double> samples) {
  return summarize("", "", std::move(samples)).median;
}

// The run's events: its head, counted from its first.
double events_of(Bench& b, const std::string& run) {
  const RunInfo info = must(b.store->head(RunId(run)), "reading a run's head");
  return static_cast<double>(info.head_seq - info.first_seq + 1);
}

// A new run of `units` units: µs from start() to idle (loading the script and, for the
// harness, its modules included: they are the harness's, spread over its units).
Timed live_run(Bench& b, const std::string& script, const std::string& run, int64_t units) {
  const double f0 = minor_faults(), t0 = now_us();
  b.start(script, run, Json::object({{"units", units}}));
  b.drive();
  const Timed timed{now_us() - t0, minor_faults() - f0};
  b.outcome(run, RunStatus::kCompleted);
  must(b.host->unload(RunId(run)), "unloading a run");
  return timed;
}

// The completed `run` executed again by a new Host and Kernel on the same ledger (what a
// second process does): µs from start() to idle, the kernel loading the run included. It
// must append nothing: a step that went live would not be a replay.
Timed replayed_run(Bench& b, const std::string& script, const std::string& run) {
  const double events = events_of(b, run);
  b.reopen(stdlib_options());
  const double f0 = minor_faults(), t0 = now_us();
  b.start(script, run);
  b.drive();
  const Timed timed{now_us() - t0, minor_faults() - f0};
  b.outcome(run, RunStatus::kCompleted);
  if (events_of(b, run) != events)
    must(Status::internal("run {} appended while re-executed", run), "replay");
  return timed;
}

// harness_overhead_live_us, harness_overhead_replayed_us, harness_extra_events: rounds of
// runs of N units (harness, records, raw loop) on one ledger; a sample is one round's
// difference per unit. Taking the three in turn keeps the machine's drift out of the
// differences. The records run splits the overhead: recording = records - raw, the
// harness's Lua (and what it does not record) = harness - records.
void bench_overhead(const Settings& s) {
  const int64_t units = s.quick ? 200 : 1000;
  const int rounds = s.quick ? 3 : 9;
  const double n = static_cast<double>(units);
  const std::vector<std::string> scripts = {unit_script(s, "harness.lua", kHarnessScript),
                                            unit_script(s, "records.lua", kRecordsScript),
                                            unit_script(s, "raw.lua", kRawScript)};
  const std::vector<std::string> names = {"harness", "records", "raw"};
  Bench b(s.dir + "/overhead", stdlib_options());
  // Per script, per round: µs per unit.
  auto measure = [&](const std::string& what, Target target, int count, auto&& one_run) {
    std::vector<std::vector<double>> unit(scripts.size()), faults(scripts.size());
    for (int r = 0; r < count; ++r) {
      for (size_t k = 0; k < scripts.size(); ++k) {
        const Timed timed = one_run(k, r);
        unit[k].push_back(timed.us / n);
        faults[k].push_back(timed.faults / n);
      }
    }
    std::vector<double> overhead, recording, lua;
    for (int r = 0; r < count; ++r) {
      overhead.push_back(unit[0][r] - unit[2][r]);
      recording.push_back(unit[1][r] - unit[2][r]);
      lua.push_back(unit[0][r] - unit[1][r]);
    }
    info(summarize("harness_" + what + "_unit_us", "us", unit[0]), s.json);
    info(summarize("raw_" + what + "_unit_us", "us", unit[2]), s.json);
    report(summarize("harness_overhead_" + what + "_us", "us", overhead), target, s.json);
    info(summarize("harness_overhead_" + what + "_recording_us", "us", recording), s.json);
    info(summarize("harness_overhead_" + what + "_lua_us", "us", lua), s.json);
    info(summarize("harness_" + what + "_faults_per_unit", "faults", faults[0]), s.json);
    info(summarize("raw_" + what + "_faults_per_unit", "faults", faults[2]), s.json);
  };
  auto run_id = [&](size_t k, int r) { return names[k] + "-" + std::to_string(r); };
  for (size_t k = 0; k < scripts.size(); ++k)
    live_run(b, scripts[k], run_id(k, -1), units);  // warm-up
  measure("live", Target{100}, rounds,
          [&](size_t k, int r) { return live_run(b, scripts[k], run_id(k, r), units); });
  const int last = rounds - 1;
  info(summarize("raw_events_per_unit", "events", {events_of(b, run_id(2, last)) / n}), s.json);
  // Per unit: the slope between runs of N and N/2 units, so what a run records once
  // (harness_initialized, define_tasks' step) is not charged to its units.
  const int64_t half = units / 2;
  live_run(b, scripts[0], "harness-half", half);
  live_run(b, scripts[2], "raw-half", half);
  const double harness_added = events_of(b, run_id(0, last)) - events_of(b, "harness-half");
  const double raw_added = events_of(b, run_id(2, last)) - events_of(b, "raw-half");
  const double extra = (harness_added - raw_added) / static_cast<double>(units - half);
  report(summarize("harness_extra_events", "events", {extra}), Target{5}, s.json);
  const double fixed = events_of(b, run_id(0, last)) - events_of(b, run_id(2, last)) - extra * n;
  info(summarize("harness_fixed_events", "events", {fixed}), s.json);
  // The last round's runs, executed again.
  measure("replayed", Target{20}, s.quick ? 2 : 5,
          [&](size_t k, int) { return replayed_run(b, scripts[k], run_id(k, last)); });
}

// harness_unit_at_10k_ratio: a unit's live time in a harness run of 10 000 units over its
// time in runs of 100 (the median of several): a sample is one long run. 1.0 is a unit that
// costs the same however many units the run has.
void bench_scale(const Settings& s) {
  const int64_t small = 100, big = s.quick ? 1000 : 10000;
  const std::string size = s.quick ? "1k" : "10k";
  const std::string harness = unit_script(s, "harness.lua", kHarnessScript);
  Bench b(s.dir + "/scale", stdlib_options());
  std::vector<double> small_unit, big_unit;
  int next = 0;
  // Short runs before each long one and after the last: a drift of the machine's load
  // during the long runs falls on both sides. The first short run warms up.
  auto small_runs = [&](int count) {
    for (int i = 0; i < count; ++i) {
      const double t = live_run(b, harness, "small-" + std::to_string(next++), small).us;
      if (next > 1) small_unit.push_back(t / static_cast<double>(small));
    }
  };
  small_runs(1);
  for (int i = 0; i < (s.quick ? 1 : 3); ++i) {
    small_runs(4);
    const double t = live_run(b, harness, "big-" + std::to_string(i), big).us;
    big_unit.push_back(t / static_cast<double>(big));
  }
  small_runs(4);
  const double base = median_of(small_unit);
  std::vector<double> ratios;
  for (double t : big_unit) ratios.push_back(t / base);
  info(summarize("harness_unit_at_100_us", "us", small_unit), s.json);
  info(summarize("harness_unit_at_" + size + "_us", "us", big_unit), s.json);
  report(summarize("harness_unit_at_" + size + "_ratio", "x", ratios), Target{1.5}, s.json);
}

// lookup_at_100k_ratio: a run:lookup (limit 20) in a run that wrote 100 000 summaries of
// distinct keys over one in a run that wrote 1 000, each on its own ledger (so the tenant
// holds only that run's), their blocks taken in turn. A sample is one block of the big run,
// per lookup, over the small run's median; scope "run" is the figure, "tenant" beside it.
void bench_lookup(const Settings& s) {
  const int64_t sizes[] = {1000, s.quick ? 10000 : 100000};
  const int64_t rounds = s.quick ? 10 : 50, block = 20;
  const std::string big = s.quick ? "10k" : "100k";
  const std::vector<std::string> scopes = {"run", "tenant"};
  Json scope_list = Json::array();
  for (const std::string& scope : scopes) scope_list.push_back(scope);
  const std::string script = write_script(s.dir, "lookup.lua", kLookupScript);
  StampPrints markers[2];
  std::vector<std::unique_ptr<Bench>> benches;
  for (int i = 0; i < 2; ++i) {
    // Kept loaded while paused: a parked run would replay all its summaries at each resume.
    host::HostOptions options = stdlib_options(markers[i].options());
    options.park_idle_runs = false;
    benches.push_back(
        std::make_unique<Bench>(s.dir + "/lookup-" + std::to_string(sizes[i]), options));
    benches[i]->start(script, "notes",
                      Json::object({{"summaries", sizes[i]},
                                    {"rounds", rounds},
                                    {"block", block},
                                    {"scopes", scope_list}}));
    benches[i]->drive(std::chrono::seconds(600));
    benches[i]->outcome("notes", RunStatus::kPaused);
  }
  // [size][scope]: µs per lookup, one sample per block.
  std::vector<double> per_lookup[2][2];
  for (int64_t r = 0; r < rounds; ++r) {
    for (int i = 0; i < 2; ++i) {
      markers[i].stamps.clear();
      markers[i].recording = true;
      must(benches[i]->host->resume(RunId("notes"), Json()), "resuming a run");
      benches[i]->drive();
      markers[i].recording = false;
      if (markers[i].stamps.size() != 2 * scopes.size())
        must(Status::internal("{} markers in a round", markers[i].stamps.size()), "lookup");
      for (size_t k = 0; k < scopes.size(); ++k) {
        const double span = markers[i].stamps[2 * k + 1] - markers[i].stamps[2 * k];
        per_lookup[i][k].push_back(span / static_cast<double>(block));
      }
    }
  }
  for (auto& b : benches) b->outcome("notes", RunStatus::kCompleted);
  for (size_t k = 0; k < scopes.size(); ++k) {
    const std::string scope = k == 0 ? "" : "_" + scopes[k];
    const double base = median_of(per_lookup[0][k]);
    std::vector<double> ratios;
    for (double t : per_lookup[1][k]) ratios.push_back(t / base);
    info(summarize("lookup" + scope + "_at_1k_us", "us", per_lookup[0][k]), s.json);
    info(summarize("lookup" + scope + "_at_" + big + "_us", "us", per_lookup[1][k]), s.json);
    report(summarize("lookup" + scope + "_at_" + big + "_ratio", "x", ratios), Target{1.5}, s.json);
  }
}

}  // namespace

int main(int argc, char** argv) {
  const Settings s = parse_settings(argc, argv, "overhead|scale|lookup", "artana-sbench");
  info(measure_fsync_us(s.dir, s.quick ? 20 : 200), s.json);
  if (s.wants("overhead", "harness_overhead_live_us")) bench_overhead(s);
  if (s.wants("scale", "harness_unit_at_10k_ratio")) bench_scale(s);
  if (s.wants("lookup", "lookup_at_100k_ratio")) bench_lookup(s);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
