#include "artana/host/run_request.h"

#include <cstdlib>

#include "artana/kernel/middleware.h"

namespace artana::host {

using kernel::Json;

Status prepare_run(const RunRequest& request, kernel::Kernel& kernel, kernel::EventStore& store,
                   bool resume, RunOptions& options, std::string& script) {
  const kernel::RunId run = *options.run_id;
  auto info = store.run_info(run);
  if (!info.ok() && info.status().code() != StatusCode::kNotFound) return info.status();
  options.pinned = request.pinned;
  // A run created by a process that died before recording run_started is started afresh.
  const bool never_started = info.ok() && info->head_seq == 0 && !info->header.forked_from;
  if (!info.ok() || never_started) {
    if (resume) return Status::not_found("no run '{}' in this ledger", run.str());
    options.tenant.tenant_id = kernel::TenantId(request.tenant.value_or("default"));
    options.tenant.capabilities = request.caps;
    options.tenant.budget_micro_usd = request.budget_micro_usd;
    options.input = request.input.value_or(Json::object());
    options.seed = request.seed;
    options.replay = request.replay;
    return Status();
  }
  options.replay = request.replay;
  const kernel::TenantId tenant = info->header.tenant_id;
  if (request.tenant && *request.tenant != tenant.str())
    return Status::invalid_argument("run '{}' belongs to tenant '{}', not '{}'", run.str(),
                                    tenant.str(), *request.tenant);
  options.tenant.tenant_id = tenant;
  ARTANA_ASSIGN_OR_RETURN(kernel::RunRecord record, kernel.run_record(tenant, run));
  if (resume) {
    const Json* entry = record.script.find("entry");
    const Json* path = entry != nullptr ? entry->find("path") : nullptr;
    if (path == nullptr || !path->is_string())
      return Status::failed_precondition("run '{}' has no recorded script to resume", run.str());
    script = path->as_string();
    if (request.budget_micro_usd)
      ARTANA_RETURN_IF_ERROR(kernel.raise_budget("cli", run, *request.budget_micro_usd));
    for (const std::string& capability : request.grants)
      ARTANA_RETURN_IF_ERROR(kernel.grant("cli", run, capability));
  }
  if (record.status == kernel::RunStatus::kPaused ||
      (resume && record.status == kernel::RunStatus::kNeedsAttention)) {
    if (resume || request.input) {
      Status resumed = kernel.resume(tenant, run, request.input.value_or(Json()));
      // A run held by its child is not the one to resume: the refusal names the child.
      if (!resumed.ok() && (record.status == kernel::RunStatus::kPaused ||
                            resumed.error_kind() == ErrorKind::kInvalidState))
        return resumed;
    }
  }
  if (resume && record.parent_run_id) {
    // A child executes only through its top-most ancestor, which executes it again from
    // where it stopped: that is the run to execute now.
    ARTANA_ASSIGN_OR_RETURN(kernel::RunId top, top_ancestor(store, run));
    ARTANA_ASSIGN_OR_RETURN(kernel::RunRecord top_record, kernel.run_record(tenant, top));
    const Json* entry = top_record.script.find("entry");
    const Json* path = entry != nullptr ? entry->find("path") : nullptr;
    if (path == nullptr || !path->is_string())
      return Status::failed_precondition("run '{}' has no recorded script to execute", top.str());
    script = path->as_string();
    options.run_id = top;
  }
  return Status();
}

Result<kernel::RunId> top_ancestor(kernel::EventStore& store, const kernel::RunId& run) {
  kernel::RunId top = run;
  for (int depth = 0; depth <= 2 * kernel::kMaxChildDepth; ++depth) {
    ARTANA_ASSIGN_OR_RETURN(kernel::RunInfo info, store.run_info(top));
    // A fork executes through the run it forked from; a child through its parent.
    if (info.header.forked_from) {
      top = info.header.forked_from->run_id;
    } else if (info.header.parent_run_id) {
      top = *info.header.parent_run_id;
    } else {
      return top;
    }
  }
  return Status::failed_precondition("run '{}' has more ancestors than runs can have", run.str());
}

kernel::KernelOptions policy_kernel_options(bool enforced) {
  kernel::KernelOptions options;
  // A host's thread never waits for a sync: its runs' steps commit on the store's thread
  // and each run goes on once what it recorded has landed (ScriptRun::commits_landed).
  options.pipelined_commits = true;
  if (enforced) {
    options.mode = kernel::PolicyMode::kEnforced;
    options.middleware = {kernel::make_pii_scrubber(), kernel::make_quota_guard(),
                          kernel::make_capability_guard()};
  } else {
    // Permissive still keeps a budget the operator set (--budget): spending past it is
    // never what anyone wants. Without a budget the guard only counts.
    kernel::QuotaOptions quota;
    quota.allow_unknown_cost = true;  // a port that does not price its calls is not refused
    options.middleware = {kernel::make_quota_guard(quota)};
  }
  return options;
}

}  // namespace artana::host
