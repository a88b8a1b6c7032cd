#include "artana/kernel/middleware.h"

#include "middleware/capability_rule.h"

#include <algorithm>

#include "artana/kernel/tool_registry.h"
#include "middleware/pii_redactor.h"

namespace artana::kernel {
namespace {

class PiiScrubber final : public Middleware {
 public:
  Kind kind() const override { return Kind::kPii; }
  std::string_view name() const override { return "pii_scrubber"; }
  Status rewrite_request(const StepContext&, StepRequest& request) override {
    scrub(request.placeholders, request.values,
          request.placeholders.renumber ? ScrubMode::kReplay : ScrubMode::kLive);
    return Status();
  }
  void rewrite_result(const StepContext&, StepResult& result) override {
    scrub(result.placeholders, result.values, ScrubMode::kLive);
  }

 private:
  static void scrub(Placeholders& placeholders, std::span<StepValue> values, ScrubMode mode) {
    if (placeholders.numbering == nullptr) return;
    for (StepValue& value : values) {
      // Scanned before it is copied: a value without PII (most) is never copied.
      if (!contains_pii(value.get())) continue;
      scrub_pii(*placeholders.numbering, value.edit(), mode, placeholders.allocated);
    }
  }
};

class QuotaGuard final : public Middleware {
 public:
  explicit QuotaGuard(QuotaOptions options) : options_(options) {}
  Kind kind() const override { return Kind::kQuota; }
  std::string_view name() const override { return "quota"; }
  bool rewrites_values() const override { return false; }

  Status judge(const StepContext& ctx, const StepRequest& request) override {
    if (request.model == nullptr) return Status();
    const ModelCall& call = *request.model;
    if (ctx.tenant.budget_micro_usd && ctx.spend_micro_usd >= *ctx.tenant.budget_micro_usd) {
      return Status::failed_precondition(
                 "run '{}' spent {} of its {} micro-USD budget; the operator can raise it "
                 "(raise_budget) and resume",
                 ctx.run_id.str(), ctx.spend_micro_usd, *ctx.tenant.budget_micro_usd)
          .with_kind(ErrorKind::kBudgetExceeded, ctx.step_key);
    }
    for (const AncestorBudget& above : ctx.ancestors) {
      if (above.tree_spend_micro_usd < above.budget_micro_usd) continue;
      return Status::failed_precondition(
                 "run '{}' and the other runs under its ancestor '{}' spent {} of that run's {} "
                 "micro-USD budget; the operator can raise it and resume",
                 ctx.run_id.str(), above.run_id.str(), above.tree_spend_micro_usd,
                 above.budget_micro_usd)
          .with_kind(ErrorKind::kBudgetExceeded, ctx.step_key);
    }
    if (!options_.allow_unknown_cost && ctx.facts != nullptr &&
        ctx.facts->known(unpriced_fact(call.model))) {
      return Status::failed_precondition(
                 "model '{}' reports no cost, so its spend cannot be counted against the "
                 "budget; price it in its port or allow unknown costs",
                 call.model)
          .with_kind(ErrorKind::kPolicyViolation, ctx.step_key);
    }
    return Status();
  }

  void rewrite_result(const StepContext&, StepResult& result) override {
    const ModelOutcome* outcome = result.model_outcome;
    if (outcome == nullptr || !outcome->ok || outcome->cost_micro_usd) return;
    result.facts.push_back(unpriced_fact(result.model));
  }

 private:
  // Kept per tenant in the ledger: every process refuses the model for the tenant afterwards.
  static std::string unpriced_fact(std::string_view model) {
    return "unpriced_model:" + std::string(model);
  }

  QuotaOptions options_;
};

class CapabilityGuard final : public Middleware {
 public:
  explicit CapabilityGuard(CapabilityOptions options) : options_(options) {}
  Kind kind() const override { return Kind::kCapability; }
  std::string_view name() const override { return "capability_guard"; }
  bool rewrites_values() const override { return false; }  // only the tools offered
  // A model is never offered a tool the tenant lacks: it never hears of it.
  Status rewrite_request(const StepContext& ctx, StepRequest& request) override {
    if (request.offered == nullptr) return Status();
    std::erase_if(*request.offered, [&](const RegisteredTool* tool) {
      return capability_refused(ctx.tenant, tool->spec.capability, options_,
                                tool->spec.capability_required);
    });
    return Status();
  }
  Status judge(const StepContext& ctx, const StepRequest& request) override {
    if (request.tool == nullptr) return Status();
    const ToolCall& call = *request.tool;
    if (!capability_refused(ctx.tenant, call.capability, options_, call.capability_required)) {
      return Status();
    }
    return Status::permission_denied("tool '{}' needs capability '{}', which tenant '{}' lacks",
                                     call.tool, call.capability, ctx.tenant.tenant_id.str())
        .with_kind(ErrorKind::kCapabilityDenied, ctx.step_key);
  }

 private:
  CapabilityOptions options_;
};

}  // namespace

Status Middleware::rewrite_request(const StepContext&, StepRequest&) { return Status(); }
Status Middleware::judge(const StepContext&, const StepRequest&) { return Status(); }
void Middleware::rewrite_result(const StepContext&, StepResult&) {}

Json& StepValue::edit() {
  if (!edited_) {
    edited_ = true;
    if (owned_ == nullptr) {
      copy_ = *read_;
      read_ = &*copy_;
    }
  }
  return owned_ != nullptr ? *owned_ : *copy_;
}

Json StepValue::take() {
  if (owned_ != nullptr) return std::move(*owned_);
  if (copy_) return std::move(*copy_);
  return *read_;
}

std::string_view policy_mode_name(PolicyMode mode) {
  return mode == PolicyMode::kEnforced ? "enforced" : "permissive";
}

Result<PolicyMode> parse_policy_mode(std::string_view name) {
  if (name == "permissive") return PolicyMode::kPermissive;
  if (name == "enforced") return PolicyMode::kEnforced;
  return Status::invalid_argument("policy mode '{}' is not one of permissive, enforced", name);
}

std::shared_ptr<Middleware> make_pii_scrubber() { return std::make_shared<PiiScrubber>(); }
std::shared_ptr<Middleware> make_quota_guard(QuotaOptions options) {
  return std::make_shared<QuotaGuard>(options);
}
std::shared_ptr<Middleware> make_capability_guard() {
  return std::make_shared<CapabilityGuard>(CapabilityOptions{});
}

std::shared_ptr<Middleware> make_capability_guard(CapabilityOptions options) {
  return std::make_shared<CapabilityGuard>(options);
}

bool capability_refused(const TenantContext& tenant, std::string_view capability,
                        CapabilityOptions options, bool required) {
  if (capability.empty() || tenant.has_capability(capability)) return false;
  return required || !options.only_listed || !tenant.capabilities.empty();
}

}  // namespace artana::kernel
