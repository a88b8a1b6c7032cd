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
  const StepContext ctx{state.run_id, state.tenant, step_key, kind, state.spend_micro_usd, &facts};
  for (const auto& m : middleware_) {
    Status verdict = m->judge(ctx, request);
    if (verdict.ok()) continue;
    if (verdict.error_kind() == ErrorKind::kBudgetExceeded) {
      // Sticky until the operator raises the budget and resumes.
      return halt(state, verdict, RunStatus::kNeedsAttention,
                  Json::object({{"middleware", m->name()}}));
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
                                 {"middleware", m->name()},
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
  return Status();
}

void Kernel::rewrite_result(RunState& state, const std::string& step_key, StepKind kind,
                            StepResult& result) {
  if (result.placeholders.numbering == nullptr) result.placeholders.numbering = &state.pii;
  LedgerTenantFacts facts(store_, state.tenant.tenant_id);
  const StepContext ctx{state.run_id, state.tenant, step_key, kind, state.spend_micro_usd, &facts};
  for (const auto& m : middleware_) m->rewrite_result(ctx, result);
}

}  // namespace artana::kernel
