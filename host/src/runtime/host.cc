#include "artana/host/host.h"

#include <chrono>
#include <cstdlib>

#include <spdlog/spdlog.h>

#include "artana/kernel/sha256.h"
#include "builtin_tools.h"
#include "http_allow.h"
#include "io_thread.h"
#include "native_inbox.h"
#include "run_guard.h"
#include "schedule.h"
#include "script_run.h"
#include "state_pool.h"

namespace artana::host {

namespace {

int64_t system_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Host::Host(kernel::Kernel& kernel, HostOptions options)
    : schedule_(std::make_unique<Schedule>()),
      states_(std::make_unique<StatePool>(options.limits)),  // before options is moved
      kernel_(kernel),
      options_(std::move(options)),
      io_(std::make_unique<io::IoThread>()) {
  native_ = std::make_unique<NativeInbox>([io = io_.get()] { io->poke(); });
  states_->set_ready_hook([io = io_.get()] { io->poke(); });
  if (!options_.clock) options_.clock = system_clock_us;
  // Entries the CLI checked; an embedder's bad entry allows nothing (it is logged).
  auto allow = io::HttpAllowList::parse(options_.http_allow);
  if (!allow.ok()) spdlog::error("HostOptions::http_allow: {}", allow.status().message());
  http_allow_ = std::make_unique<io::HttpAllowList>(allow.ok() ? std::move(*allow)
                                                               : *io::HttpAllowList::parse({}));
  secret_env_.insert(options_.secret_env.begin(), options_.secret_env.end());
  (void)compiled_builtin_tools();  // now, not in the first run's start (a frame)
  kernel_.set_commit_listener([this] {
    commits_landed_.store(true, std::memory_order_release);
    io_->poke();
  });
}

Host::~Host() {
  kernel_.set_commit_listener({});  // waits for a call in progress: nothing pokes us after
  states_->set_ready_hook({});      // likewise
  // Executions first: each forgets what it waited for while the host's maps still exist.
  closing_ = true;
  draining_.clear();
  held_drains_.clear();
  runs_.clear();
  native_.reset();  // what is still outstanding is cancelled
}

Status Host::set_clock(std::function<int64_t()> clock) {
  if (schedule_->next_serial > 1) {
    return Status::failed_precondition(
        "the clock can only be set before the first run starts in this host");
  }
  options_.clock = clock ? std::move(clock) : std::function<int64_t()>(system_clock_us);
  return Status();
}

void Host::set_memory_script(const std::string& name, std::string text) {
  std::string sha256 = kernel::Sha256::of(text).hex();
  memory_scripts_[name] = MemoryScript{std::move(text), std::move(sha256)};
}

void Host::remove_memory_script(const std::string& name) { memory_scripts_.erase(name); }

Result<ScriptSource> Host::load_source(const std::string& script_path, const RunOptions& options) {
  constexpr std::string_view kMemory = ScriptSource::kMemoryPrefix;
  if (!options.pinned && std::string_view(script_path).starts_with(kMemory)) {
    auto it = memory_scripts_.find(std::string_view(script_path).substr(kMemory.size()));
    if (it == memory_scripts_.end()) {
      return Status::not_found("script '{}' is not loaded in this host (load it from memory first)",
                               script_path);
    }
    ScriptSource source = ScriptSource::from_memory(it->first, it->second.text, it->second.sha256,
                                                    options_.stdlib_dir);
    source.use_app_modules(options_.module_loader);
    return source;
  }
  if (!options.pinned) {
    ARTANA_ASSIGN_OR_RETURN(ScriptSource source,
                            ScriptSource::from_file(script_path, options_.stdlib_dir));
    source.use_app_modules(options_.module_loader);
    return source;
  }
  // --pinned: the code the run recorded, from the ledger, whatever the files say now.
  ARTANA_ASSIGN_OR_RETURN(kernel::RunRecord record,
                          kernel_.run_record(options.tenant.tenant_id, *options.run_id));
  return ScriptSource::pinned(record.script,
                              [this](const std::string& sha) { return kernel_.load_source(sha); });
}

Result<kernel::RunId> Host::start(const std::string& script_path, RunOptions options) {
  return start_execution(script_path, std::move(options), nullptr);
}

Result<kernel::RunId> Host::start_execution(const std::string& script_path, RunOptions options,
                                            std::unique_ptr<PreparedState> reused) {
  if (!options.run_id) options.run_id = kernel::Kernel::new_run_id();
  const kernel::RunId id = *options.run_id;
  ARTANA_ASSIGN_OR_RETURN(ScriptSource source, load_source(script_path, options));
  parked_.erase(id.str());
  if (auto it = runs_.find(id.str()); it != runs_.end()) {
    // Executing a loaded run again (hot reload, a re-run): only once it is idle, and from a
    // fresh kernel view so the new execution replays from the top.
    if (!it->second->outcome())
      return Status::already_exists("run '{}' is busy in this host; try again once it is idle",
                                    id.str());
    ARTANA_RETURN_IF_ERROR(unload(id));
  }
  Result<std::unique_ptr<ScriptRun>> created = Status::internal("not created");
  try {
    created = ScriptRun::create(*this, std::move(source), std::move(options), std::move(reused));
  } catch (const std::exception& e) {
    return Status::internal("creating run '{}' failed: {}", id.str(), e.what());
  }
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<ScriptRun> run, std::move(created));
  runs_.emplace(id.str(), std::move(run));
  return id;
}

Status Host::store_source(const SourceFile& source) {
  if (!source.sha256.empty() && stored_sources_.count(source.sha256)) return Status();
  ARTANA_ASSIGN_OR_RETURN(std::string hash, kernel_.store_source(source.text));
  stored_sources_.insert(std::move(hash));
  return Status();
}

Status Host::resume(const kernel::RunId& run, const kernel::Json& input) {
  if (held_by_.count(run.str())) return resume_held(run, input);
  if (auto parked = parked_.find(run.str()); parked != parked_.end()) {
    ARTANA_RETURN_IF_ERROR(kernel_.resume(parked->second.options.tenant.tenant_id, run, input));
    return restart(run.str());
  }
  auto it = runs_.find(run.str());
  if (it == runs_.end() || !it->second->started())
    return Status::not_found("run '{}' is not executing in this host", run.str());
  ARTANA_RETURN_IF_ERROR(kernel_.resume(it->second->tenant(), run, input));
  ScriptRun& script = *it->second;
  guarded(script, [&] { script.pauses_resumed(); });
  return Status();
}

// Executes a parked run again: its script replays up to where it stopped and goes on.
Status Host::restart(const std::string& run_id) {
  auto it = parked_.find(run_id);
  if (it == parked_.end()) return Status::not_found("run '{}' is not parked here", run_id);
  Parked parked = std::move(it->second);
  parked_.erase(it);
  // A fresh kernel view: the new execution replays from the top. A suspended run's view was
  // made afresh when it stopped, keeping its calls in flight for the new execution to adopt.
  if (!parked.suspended)
    (void)kernel_.unload(parked.options.tenant.tenant_id, kernel::RunId(run_id));
  auto started = start(parked.script_path, parked.options);
  if (!started.ok()) {
    parked_.emplace(run_id, std::move(parked));
    return started.status();
  }
  return Status();
}

std::optional<RunOutcome> Host::outcome(const kernel::RunId& run) const {
  if (auto parked = parked_.find(run.str()); parked != parked_.end()) return parked->second.outcome;
  auto it = runs_.find(run.str());
  if (it == runs_.end()) return std::nullopt;
  return it->second->outcome();
}

Status Host::unload(const kernel::RunId& run) {
  if (auto parked = parked_.find(run.str()); parked != parked_.end()) {
    const kernel::TenantId tenant = parked->second.options.tenant.tenant_id;
    parked_.erase(parked);
    return kernel_.unload(tenant, run);
  }
  // Its old executions go (moved out first: one going may hand a held one back to draining_).
  using Execution = std::unique_ptr<ScriptRun>;
  std::vector<Execution> gone;
  auto take_old = [&](auto& container, auto execution_of) {
    for (auto it = container.begin(); it != container.end();) {
      Execution& old = execution_of(*it);
      if (old->run_id() != run) {
        ++it;
        continue;
      }
      gone.push_back(std::move(old));
      it = container.erase(it);
    }
  };
  take_old(draining_, [](Execution& old) -> Execution& { return old; });
  take_old(held_drains_, [](auto& held) -> Execution& { return held.second; });
  gone.clear();
  auto it = runs_.find(run.str());
  if (it == runs_.end()) return Status::not_found("run '{}' is not loaded here", run.str());
  const bool started = it->second->started();
  const kernel::TenantId tenant = it->second->tenant();
  runs_.erase(it);
  if (!started) return Status();
  return kernel_.unload(tenant, run);
}

}  // namespace artana::host
