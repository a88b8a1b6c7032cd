#include "artana/kernel/kernel_types.h"

#include <algorithm>

namespace artana::kernel {

bool TenantContext::has_capability(std::string_view capability) const {
  return std::binary_search(capabilities.begin(), capabilities.end(), capability);
}

Json TenantContext::to_json() const {
  Json caps = Json::array();
  for (const std::string& c : capabilities) caps.push_back(c);
  Json out = Json::object({{"tenant_id", tenant_id.str()}, {"capabilities", std::move(caps)}});
  out.set("budget_micro_usd", budget_micro_usd ? Json(*budget_micro_usd) : Json());
  return out;
}

Result<TenantContext> TenantContext::from_json(const Json& json) {
  const Json* id = json.find("tenant_id");
  const Json* caps = json.find("capabilities");
  const Json* budget = json.find("budget_micro_usd");
  if (id == nullptr || !id->is_string() || caps == nullptr || !caps->is_array() ||
      (budget != nullptr && !budget->is_null() && !budget->is_integer())) {
    return Status::corruption("a recorded tenant context is malformed");
  }
  TenantContext out;
  out.tenant_id = TenantId(id->as_string());
  for (const Json& c : caps->as_array()) {
    if (!c.is_string()) return Status::corruption("a recorded capability is not a string");
    out.capabilities.push_back(c.as_string());
  }
  std::sort(out.capabilities.begin(), out.capabilities.end());
  if (budget != nullptr && budget->is_integer()) out.budget_micro_usd = budget->as_integer();
  return out;
}

std::string_view replay_policy_name(ReplayPolicy policy) {
  switch (policy) {
    case ReplayPolicy::kStrict:
      return "strict";
    case ReplayPolicy::kAllowPromptDrift:
      return "allow_prompt_drift";
    case ReplayPolicy::kForkOnDrift:
      return "fork_on_drift";
  }
  return "strict";
}

Result<ReplayPolicy> parse_replay_policy(std::string_view name) {
  for (ReplayPolicy p :
       {ReplayPolicy::kStrict, ReplayPolicy::kAllowPromptDrift, ReplayPolicy::kForkOnDrift}) {
    if (replay_policy_name(p) == name) return p;
  }
  return Status::invalid_argument(
      "replay policy '{}' is not one of strict, allow_prompt_drift, fork_on_drift", name);
}

std::string_view failure_category_name(FailureCategory category) {
  switch (category) {
    case FailureCategory::kTimeout:
      return "timeout";
    case FailureCategory::kTransient:
      return "transient";
    case FailureCategory::kPermanent:
      return "permanent";
    case FailureCategory::kInvalidOutput:
      return "invalid_output";
    case FailureCategory::kRefused:
      return "refused";
  }
  return "transient";
}

std::string_view tool_outcome_name(ToolOutcomeKind kind) {
  switch (kind) {
    case ToolOutcomeKind::kSuccess:
      return "success";
    case ToolOutcomeKind::kTransientError:
      return "transient_error";
    case ToolOutcomeKind::kPermanentError:
      return "permanent_error";
    case ToolOutcomeKind::kUnknownOutcome:
      return "unknown_outcome";
  }
  return "unknown_outcome";
}

Result<ToolOutcomeKind> parse_tool_outcome(std::string_view name) {
  for (ToolOutcomeKind k : {ToolOutcomeKind::kSuccess, ToolOutcomeKind::kTransientError,
                            ToolOutcomeKind::kPermanentError, ToolOutcomeKind::kUnknownOutcome}) {
    if (tool_outcome_name(k) == name) return k;
  }
  return Status::corruption(
      "tool outcome '{}' is not one of success, transient_error, "
      "permanent_error, unknown_outcome",
      name);
}

int exit_code_for(RunStatus status, ErrorKind error) {
  const int by_kind = error_kind_row(error).exit_code;
  if (error != ErrorKind::kNone && by_kind >= exit_code::kNeedsAttention &&
      by_kind <= exit_code::kLedgerUnavailable) {
    return by_kind;
  }
  switch (status) {
    case RunStatus::kCompleted:
    case RunStatus::kRunning:
      return exit_code::kOk;
    case RunStatus::kPaused:
    case RunStatus::kSleeping:
      return exit_code::kPaused;
    case RunStatus::kNeedsAttention:
      return exit_code::kNeedsAttention;
    case RunStatus::kFailed:
      return exit_code::kFailed;
    case RunStatus::kCancelled:
      return exit_code::kCancelled;
  }
  return exit_code::kFailed;
}

int exit_code_for(const Status& status) { return error_kind_row(visible_kind(status)).exit_code; }

}  // namespace artana::kernel
