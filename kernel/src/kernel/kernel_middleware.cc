// Kernel: the middleware chain (middleware.h) — every middleware's hook, in the kernel's fixed
// order, for every step kind. The kinds build what the hooks see; this file runs them.
#include "artana/kernel/kernel.h"
#include "kernel/event_types.h"
#include "kernel/step_machine.h"
#include "kernel/tenant_facts.h"

namespace artana::kernel {

namespace ev = events;

Status Kernel::rewrite_request(RunState& state, const std::string& step_key,
                               std::optional<StepKind> kind, StepRequest& request) {
  if (request.placeholders.numbering == nullptr) request.placeholders.numbering = &state.pii;
  LedgerTenantFacts facts(store_, state.tenant.tenant_id);
  const StepContext ctx{state.run_id, state.tenant, step_key, kind, state.spend_micro_usd, &facts};
  for (const auto& m : middleware_) ARTANA_RETURN_IF_ERROR(m->rewrite_request(ctx, request));
  return Status();
}

Status Kernel::judge(RunState& state, const std::string& step_key, StepKind kind,
                     const StepRequest& request) {
  LedgerTenantFacts facts(store_, state.tenant.tenant_id);
  int64_t spend = state.spend_micro_usd;
  std::vector<AncestorBudget> ancestors;
  if (state.has_children || state.parent_run_id) {
    // A run of a tree: its children's spend is its own, and its ancestors' budgets bind it.
    ARTANA_ASSIGN_OR_RETURN(Totals totals, store_.totals(state.run_id));
    spend = std::max(spend, totals.tree_spend_micro_usd);
    ARTANA_ASSIGN_OR_RETURN(ancestors, ancestor_budgets(state));
  }
  StepContext ctx{state.run_id, state.tenant, step_key, kind, spend, &facts};
  ctx.ancestors = ancestors;
  for (const auto& m : middleware_) {
    Status verdict = m->judge(ctx, request);
    if (verdict.ok()) continue;
    ARTANA_RETURN_IF_ERROR(refuse(state, step_key, kind, request, verdict, m->name()));
  }
  return Status();
}

Result<std::vector<AncestorBudget>> Kernel::ancestor_budgets(const RunState& state) {
  std::vector<AncestorBudget> out;
  std::optional<RunId> parent = state.parent_run_id;
  for (int depth = 0; parent && depth <= 2 * kMaxChildDepth; ++depth) {
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, run_record(state.tenant.tenant_id, *parent));
    if (record.tenant.budget_micro_usd) {
      ARTANA_ASSIGN_OR_RETURN(Totals totals, store_.totals(*parent));
      out.push_back(
          AncestorBudget{*parent, *record.tenant.budget_micro_usd, totals.tree_spend_micro_usd});
    }
    parent = record.parent_run_id;
  }
  return out;
}

Status Kernel::refuse(RunState& state, const std::string& step_key, StepKind kind,
                      const StepRequest& request, Status verdict, std::string_view middleware) {
  {
    if (verdict.error_kind() == ErrorKind::kBudgetExceeded) {
      // Sticky until the operator raises the budget and resumes.
      return halt(state, verdict, RunStatus::kNeedsAttention,
                  Json::object({{"middleware", middleware}}));
    }
    // Audited once per step and kind of refusal: an execution that reaches the step again
    // and is refused again appends nothing. The step stays open for a retry after the
    // context widens.
    auto found = state.steps.find(step_key);
    if (found != state.steps.end() && found->second.denied_seq != 0 &&
        found->second.denied_kind == verdict.error_kind()) {
      return verdict;
    }
    Json payload = Json::object({{"step_key", step_key},
                                 {"step_kind", step_kind_name(kind)},
                                 {"kind", verdict.kind()},
                                 {"middleware", middleware},
                                 {"message", verdict.message()}});
    if (request.tool != nullptr) {
      payload.set("tool", request.tool->tool);
      if (!request.tool->capability.empty()) payload.set("capability", request.tool->capability);
    }
    ARTANA_RETURN_IF_ERROR(
        append(state, event_drafts(EventDraft{std::string(ev::kStepDenied), std::move(payload)}))
            .status());
    return verdict;
  }
}

void Kernel::rewrite_result(RunState& state, const std::string& step_key, StepKind kind,
                            StepResult& result) {
  if (result.placeholders.numbering == nullptr) result.placeholders.numbering = &state.pii;
  LedgerTenantFacts facts(store_, state.tenant.tenant_id);
  const StepContext ctx{state.run_id, state.tenant, step_key, kind, state.spend_micro_usd, &facts};
  for (const auto& m : middleware_) m->rewrite_result(ctx, result);
}

}  // namespace artana::kernel
