// `artana worker`: the long-lived process that wakes sleeping runs when their timers are
// due and takes over running runs whose owner is gone (a crash, a queued run).
#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "run_flags.h"

namespace artana::host {
namespace {

using kernel::RunStatus;

int64_t now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The script a run last executed, from its recorded identity.
std::optional<std::string> recorded_script(const kernel::RunRecord& record) {
  const kernel::Json* entry = record.script.find("entry");
  const kernel::Json* path = entry != nullptr ? entry->find("path") : nullptr;
  if (path == nullptr || !path->is_string()) return std::nullopt;
  return path->as_string();
}

// Runs that should execute now.
std::vector<kernel::RunInfo> due_runs(kernel::Kernel& kernel, kernel::EventStore& store) {
  std::vector<kernel::RunInfo> due;
  auto runs = store.list_all_runs();
  if (!runs.ok()) {
    std::fprintf(stderr, "artana worker: %s\n", runs.status().to_string().c_str());
    return due;
  }
  const int64_t now = now_us();
  std::set<std::string> taken;
  auto take = [&](kernel::RunInfo&& info) {
    // A child (or a fork) executes through its top-most ancestor, which executes it again.
    if (info.header.parent_run_id || info.header.forked_from) {
      auto top = top_ancestor(store, info.header.run_id);
      if (!top.ok()) return;
      auto top_info = store.run_info(*top);
      if (!top_info.ok()) return;
      info = std::move(*top_info);
    }
    if (taken.insert(info.header.run_id.str()).second) due.push_back(std::move(info));
  };
  for (kernel::RunInfo& info : *runs) {
    if (info.header.forked_from) continue;  // a fork executes through the run it forked from
    if (info.status == RunStatus::kSleeping) {
      auto wake = kernel.wake_time(info.header.tenant_id, info.header.run_id);
      if (wake.ok() && (!*wake || **wake <= now)) take(std::move(info));
    } else if (info.status == RunStatus::kRunning) {
      // Possibly orphaned (its process died, or it was queued). If a live process still
      // holds it, starting it is refused (lease_held) and the worker moves on.
      take(std::move(info));
    }
  }
  return due;
}

}  // namespace

int run_worker(const GlobalOptions& global, const RunFlags& flags, kernel::Kernel& kernel,
               kernel::EventStore& store, Host& host, volatile std::sig_atomic_t& stop) {
  while (!stop) {
    std::vector<kernel::RunId> started;
    for (const kernel::RunInfo& info : due_runs(kernel, store)) {
      auto record = kernel.run_record(info.header.tenant_id, info.header.run_id);
      std::optional<std::string> script = record.ok() ? recorded_script(*record) : std::nullopt;
      if (!script) continue;  // never executed by a host: nothing to run
      RunOptions options;
      options.run_id = info.header.run_id;
      options.tenant.tenant_id = info.header.tenant_id;
      options.pinned = flags.pinned;
      auto ok = host.start(*script, options);
      if (!ok.ok()) {
        std::fprintf(stderr, "artana worker: run %s: %s\n", info.header.run_id.str().c_str(),
                     ok.status().to_string().c_str());
        continue;
      }
      started.push_back(info.header.run_id);
    }
    // Until every run it took is done here: ready work is run, answers in flight waited for.
    while (!stop) {
      host.tick(std::chrono::milliseconds(20));
      if (!host.idle()) continue;
      if (host.in_flight() == 0) break;
      host.wait_for_work(std::chrono::milliseconds(250));
    }
    for (const kernel::RunId& run : started) {
      if (auto outcome = host.outcome(run)) {
        const kernel::Json* kind = outcome->error.find("kind");
        if (kind != nullptr && kind->is_string() &&
            parse_error_kind(kind->as_string()) == ErrorKind::kLeaseHeld) {
          (void)host.unload(run);
          continue;  // another process has it
        }
        std::fprintf(global.json ? stderr : stdout, "run %s: %s\n", run.str().c_str(),
                     std::string(kernel::run_status_name(outcome->status)).c_str());
      }
      (void)host.unload(run);
    }
    if (flags.once) break;
    for (int64_t waited = 0; waited < flags.poll_ms && !stop; waited += 10)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return 0;
}

}  // namespace artana::host
