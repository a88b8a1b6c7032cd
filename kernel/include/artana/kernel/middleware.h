// Middleware: the enforced chain every step passes, in a fixed order whatever order it is
// given in — PII scrubber, then quota, then capability guard, then custom middleware.
//
// Two kinds of hooks:
//  - rewrites (PII) change what is recorded and what a model sees. They run on replayed
//    steps too, because the recorded request (and so its hash) is the rewritten one.
//  - judgements (quota, capability, custom) run on live steps only: a replayed step returns
//    its recorded result and recorded decision, so resuming an unchanged run never appends.
//    A refusal is audited (step_denied, or run_halted for a budget) and leaves the step
//    open: after the operator widens the tenant context, a resume retries it live.
//
// Policy modes: permissive (any middleware, or none) and enforced (PII, quota and capability
// guard required: Kernel::create fails naming what is missing).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/kernel_types.h"
#include "artana/kernel/status.h"

namespace artana::kernel {

enum class PolicyMode { kPermissive, kEnforced };
std::string_view policy_mode_name(PolicyMode mode);
Result<PolicyMode> parse_policy_mode(std::string_view name);

// What middleware learned about a tenant and asked to keep (observe_model): recorded in the
// ledger with the step that taught it, so every process judging the tenant's steps later
// knows it — a fact learned in one process is not forgotten by the next.
class TenantFacts {
 public:
  virtual ~TenantFacts() = default;
  virtual bool known(std::string_view fact) const = 0;
};

// What a judgement sees of the run.
struct StepContext {
  const RunId& run_id;
  const TenantContext& tenant;
  const std::string& step_key;
  int64_t spend_micro_usd = 0;         // the run's spend so far (a fork's shared prefix included)
  const TenantFacts* facts = nullptr;  // the tenant's recorded facts (null: none known)
};

class Middleware {
 public:
  enum class Kind { kPii = 0, kQuota = 1, kCapability = 2, kCustom = 3 };
  virtual ~Middleware() = default;
  virtual Kind kind() const = 0;
  virtual std::string_view name() const = 0;
  // Live steps only. An error refuses the step; give it a kind (Status::with_kind).
  virtual Status judge_model(const StepContext& ctx, const ModelCall& call);
  virtual Status judge_tool(const StepContext& ctx, const ToolCall& call);
  // After a live model call: what the port reported. Returns facts to keep for the tenant
  // (the quota learns unpriced models), recorded with the step in its append.
  virtual std::vector<std::string> observe_model(const StepContext& ctx, const ModelCall& call,
                                                 const ModelOutcome& outcome);
};

// Replaces emails, phone numbers, US SSNs, payment cards and API keys in string values with
// typed placeholders ([EMAIL_1], …) numbered per run, before anything is recorded or sent
// to a model. The kernel applies it (it needs per-run state); this object switches it on.
std::shared_ptr<Middleware> make_pii_scrubber();

struct QuotaOptions {
  // Under enforced, a model whose port reports no cost is refused (its spend could not be
  // counted) unless allowed here.
  bool allow_unknown_cost = false;
};
// Refuses a live model call once the run's spend reached its budget (budget_exceeded, a
// sticky halt until raise_budget and resume). The spend is the store's running total: O(1).
std::shared_ptr<Middleware> make_quota_guard(QuotaOptions options = {});

// Tools the tenant lacks are removed from model requests and refused when called
// (capability_denied, naming the capability). A kernel given no capability guard installs
// one that judges only tenants the operator gave a capability list (--caps, a tenant's list
// through the API): capabilities given are enforced in every policy mode, as a budget is;
// with none given, permissive stays open.
std::shared_ptr<Middleware> make_capability_guard();

struct KernelOptions {
  PolicyMode mode = PolicyMode::kPermissive;
  std::vector<std::shared_ptr<Middleware>> middleware;
};

}  // namespace artana::kernel
