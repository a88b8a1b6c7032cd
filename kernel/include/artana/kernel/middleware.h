// Middleware: the chain every step passes, in a fixed order whatever order it is given in —
// PII scrubber, then quota, then capability guard, then custom middleware — with three hooks,
// each run for every middleware in that order:
//
//  1. rewrite_request: changes what is recorded and what a model or the ledger sees (the PII
//     scrubber replaces values, the capability guard withdraws tools a model may not be
//     offered). It runs on replayed steps too, because the recorded request (and so its hash)
//     is the rewritten one.
//  2. judge: live steps only, after every rewrite. A refusal is audited (step_denied, or
//     run_halted for a budget) and leaves the step open: after the operator widens the
//     tenant context, a resume retries it live. A replayed step returns its recorded result
//     and decision, so resuming an unchanged run never appends.
//  3. rewrite_result: live steps only, after the call and before anything is recorded or
//     returned (the PII scrubber replaces values in what a model or tool returned; the quota
//     learns which models report no cost, as a tenant fact recorded with the step).
//
// The PII scrubber is first so that no later middleware sees a real value it replaces.
//
// Policy modes: permissive (any middleware, or none) and enforced (PII, quota and capability
// guard required: Kernel::open fails naming what is missing).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/event.h"
#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/status.h"
#include "artana/kernel/step_kind.h"

namespace artana::kernel {

enum class PolicyMode { kPermissive, kEnforced };
std::string_view policy_mode_name(PolicyMode mode);
Result<PolicyMode> parse_policy_mode(std::string_view name);

// What middleware learned about a tenant and asked to keep (StepResult::facts): recorded in the
// ledger with the step that taught it, so every process judging the tenant's steps later
// knows it — a fact learned in one process is not forgotten by the next.
class TenantFacts {
 public:
  virtual ~TenantFacts() = default;
  virtual bool known(std::string_view fact) const = 0;
};

struct PiiState;  // a run's placeholder numbering (kernel-internal, rebuilt from the ledger)
struct RegisteredTool;

// What every hook sees of the run.
// A budget above a run's own: an ancestor's (run:child), with its tree's spend so far.
struct AncestorBudget {
  RunId run_id;
  int64_t budget_micro_usd = 0;
  int64_t tree_spend_micro_usd = 0;
};

struct StepContext {
  const RunId& run_id;
  const TenantContext& tenant;
  const std::string& step_key;   // empty for a run's input
  std::optional<StepKind> kind;  // none: a run's input (start_run, resume)
  // The run's spend so far (a fork's shared prefix included), and its children's.
  int64_t spend_micro_usd = 0;
  const TenantFacts* facts = nullptr;  // the tenant's recorded facts (null: none known)
  // Judge only: the budgets of the run's ancestors that have one (a child's spend counts
  // against each).
  std::span<const AncestorBudget> ancestors = {};
};

// A value a step records, as a rewrite sees it: read through get(), changed through edit().
// A borrowed value is copied the first time it is edited, so a long message history that no
// rewrite changes is never copied.
class StepValue {
 public:
  explicit StepValue(const Json& borrowed) : read_(&borrowed) {}
  explicit StepValue(Json* owned) : read_(owned), owned_(owned) {}
  StepValue(const StepValue&) = delete;
  StepValue& operator=(const StepValue&) = delete;

  const Json& get() const { return *read_; }
  Json& edit();
  bool edited() const { return edited_; }
  // The value as rewritten (moved out of the copy, or copied from what was borrowed).
  Json take();

 private:
  const Json* read_;
  Json* owned_ = nullptr;
  std::optional<Json> copy_;
  bool edited_ = false;
};

// Placeholders a rewrite numbers per run ([EMAIL_1], …). The kernel records what each event
// allocated ("pii_allocated") so a replay in another process numbers them alike.
struct Placeholders {
  PiiState* numbering = nullptr;
  bool renumber = false;            // a recorded step: number as it was recorded
  Json allocated = Json::object();  // what this step allocated: {"EMAIL": 1, …}
};

// What a step asks for. `values` are what it records: a model's prompt or messages, a tool's
// arguments (the tool itself gets the real ones), a pause's context, a summary's or value
// step's value, a run's or resume's input.
struct StepRequest {
  std::span<StepValue> values;
  // Model steps: the tools offered, in the order given; a rewrite removes those the model
  // must never hear of.
  std::vector<const RegisteredTool*>* offered = nullptr;
  const ModelCall* model = nullptr;  // judge, model steps: the call about to be made
  const ToolCall* tool = nullptr;    // judge, tool steps: the call about to be made
  Placeholders placeholders;
};

// What a live call returned, before it is recorded: a model's output and tool calls, a
// tool's result, a value step's value. Rewrites change `values`; `facts` are kept for the
// tenant with the step.
struct StepResult {
  std::span<StepValue> values;
  std::string_view model;                       // model steps: the model called
  const ModelOutcome* model_outcome = nullptr;  // model steps: what the port reported
  Placeholders placeholders;
  std::vector<std::string> facts;
};

class Middleware {
 public:
  enum class Kind { kPii = 0, kQuota = 1, kCapability = 2, kCustom = 3 };
  virtual ~Middleware() = default;
  virtual Kind kind() const = 0;
  virtual std::string_view name() const = 0;
  // Every step, replayed ones too. An error fails the step (nothing is recorded).
  virtual Status rewrite_request(const StepContext& ctx, StepRequest& request);
  // Live steps only. An error refuses the step; give it a kind (Status::with_kind).
  virtual Status judge(const StepContext& ctx, const StepRequest& request);
  // After a live call. It cannot refuse: the call was made, and what it did is recorded.
  virtual void rewrite_result(const StepContext& ctx, StepResult& result);
  // Whether rewrite_request reads or changes StepRequest::values. When no middleware does, a
  // replayed step that records a value (a summary, a pause's context) never makes it: the
  // script's value is not even converted.
  virtual bool rewrites_values() const { return true; }
};

// Replaces emails, phone numbers, US SSNs, payment cards and API keys in string values with
// typed placeholders ([EMAIL_1], …) numbered per run, before anything is recorded or sent
// to a model: in every step's request and in every live result.
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
  // Told each event the kernel committed for a run (steps, drift, halts, ends), in seq order,
  // on the thread that committed it, after the commit, with the run's status when that
  // append changed it (on a new run's first event, else on the append's last; nullopt on
  // the others). Must not call the kernel: an embedding app's event callback queues what it
  // hears here and hands it over later.
  std::function<void(const Event&, std::optional<RunStatus> status)> on_event;
  // Appends of runs this kernel executes return before they are committed: the store's
  // commit thread commits them in order (EventStore::append_pipelined) and the run's
  // CommitMark (Kernel::commit_mark) says when they have landed. The caller's thread then
  // never waits for a sync; the caller must not let anything outside see a step's result
  // (a script resumed, a side effect started, a run reported ended) before its mark has no
  // commit pending. A failed commit halts the run (its error, sticky); what the ledger holds
  // stands. Off: every append returns committed. Calls on behalf of an operator (cancel's
  // request to another process) are always committed before they return.
  bool pipelined_commits = false;
  // Recorded results kept in memory for the next execution of their run in this process: a
  // hot reload executes every live run again from its start, and its replay then reads no
  // result back from the ledger. Each step's terminal is kept as its canonical text, as
  // appended or as a replay read it (one whose large values are stored apart is not), while
  // the texts kept by all runs stay within this many bytes; past it, steps are read back
  // as before. 0: none kept.
  size_t kept_result_bytes = size_t{32} << 20;
};

}  // namespace artana::kernel
