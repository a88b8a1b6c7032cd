// Host: child runs (run:child). A child executes in the host that executes its parent, as a
// run of its own (its own lua_State and lease); the parent's task waits for it. When the
// child stops — ended, or idle because it is paused, sleeping or halted — its outcome goes to
// that task and the child is unloaded here: the ledger holds all of it, and the parent's
// next execution executes it again from there.
#include <spdlog/spdlog.h>

#include "script_run.h"

namespace artana::host {

void Host::start_child(ScriptRun& parent, uint64_t task_id, std::string step_key,
                       std::string script_path, RunOptions options) {
  const std::string id = options.run_id->str();
  held_by_.erase(id);
  ChildLink& link = children_[id];
  link.parent = parent.run_id().str();
  link.task_id = task_id;
  link.step_key = std::move(step_key);
  link.script_path = std::move(script_path);
  link.options = std::move(options);
  link.spawned = false;
  children_to_spawn_ = true;
}

void Host::spawn_children() {
  children_to_spawn_ = false;
  // Children of executions that went away first: nobody waits for them any more.
  std::vector<std::string> orphans = std::move(orphaned_children_);
  orphaned_children_.clear();
  for (const std::string& id : orphans) {
    if (!children_.count(id)) (void)unload(kernel::RunId(id));
  }
  for (auto& [id, link] : children_) {
    if (link.spawned) continue;
    link.spawned = true;
    auto running = runs_.find(id);
    if (running != runs_.end() && !running->second->outcome()) {
      continue;  // still executing (its parent was reloaded): the new task waits for it
    }
    parked_.erase(id);
    if (running != runs_.end()) (void)unload(kernel::RunId(id));
    auto started = start(link.script_path, link.options);
    if (started.ok()) continue;
    spdlog::warn("run={} child={} could not start: {}", link.parent, id,
                 started.status().message());
    auto parent = runs_.find(link.parent);
    if (parent != runs_.end()) parent->second->child_not_started(link.task_id, started.status());
    link.task_id = 0;  // settled: dropped below
  }
  std::erase_if(children_, [](const auto& entry) { return entry.second.task_id == 0; });
}

bool Host::settle_child(const std::string& id, const RunOutcome& outcome) {
  auto found = children_.find(id);
  if (found == children_.end() || !found->second.spawned) return false;
  const ChildLink link = std::move(found->second);
  children_.erase(found);
  (void)unload(kernel::RunId(id));
  if (!kernel::run_ended(outcome.status)) held_by_[id] = link.parent;
  auto parent = runs_.find(link.parent);
  if (parent == runs_.end()) return true;
  ScriptRun& waiting = *parent->second;
  try {
    waiting.child_stopped(link.task_id, outcome);
  } catch (const std::exception& e) {
    waiting.crashed(e.what());
  }
  return true;
}

void Host::forget_children(const ScriptRun& parent) {
  const std::string& parent_id = parent.run_id().str();
  for (auto it = children_.begin(); it != children_.end();) {
    if (it->second.parent != parent_id || it->second.task_id == 0) {
      ++it;
      continue;
    }
    // Unloaded at the next tick, not here: this runs while the parent is being destroyed,
    // perhaps inside an erase from runs_.
    if (!closing_) {
      orphaned_children_.push_back(it->first);
      children_to_spawn_ = true;
    }
    it = children_.erase(it);
  }
}

Status Host::resume_held(const kernel::RunId& run, const kernel::Json& input) {
  // The child was unloaded when it stopped; the run that holds it (or the first of its
  // ancestors still here) executes it again.
  std::string holder = held_by_.at(run.str());
  while (!runs_.count(holder) && !parked_.count(holder) && held_by_.count(holder)) {
    holder = held_by_.at(holder);
  }
  kernel::TenantId tenant;
  if (auto parked = parked_.find(holder); parked != parked_.end()) {
    tenant = parked->second.options.tenant.tenant_id;
  } else if (auto running = runs_.find(holder); running != runs_.end()) {
    tenant = running->second->tenant();
  } else {
    return Status::not_found("run '{}' is held by '{}', which is not loaded here", run.str(),
                             holder);
  }
  ARTANA_RETURN_IF_ERROR(kernel_.resume(tenant, run, input));
  return execute_again(holder);
}

Status Host::execute_again(const std::string& run_id) {
  if (parked_.count(run_id)) return restart(run_id);
  auto it = runs_.find(run_id);
  if (it == runs_.end()) return Status::not_found("run '{}' is not loaded here", run_id);
  it->second->respawn_children();
  return Status();
}

}  // namespace artana::host
