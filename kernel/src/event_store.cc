#include "artana/kernel/event_store.h"

#include <array>
#include <utility>

namespace artana::kernel {
namespace {

constexpr std::array<std::pair<Durability, std::string_view>, 3> kDurabilityNames = {{
    {Durability::kFull, "full"},
    {Durability::kEffects, "effects"},
    {Durability::kNone, "none"},
}};

constexpr std::array<std::pair<RunStatus, std::string_view>, 7> kStatusNames = {{
    {RunStatus::kRunning, "running"},
    {RunStatus::kPaused, "paused"},
    {RunStatus::kNeedsAttention, "needs_attention"},
    {RunStatus::kCompleted, "completed"},
    {RunStatus::kFailed, "failed"},
    {RunStatus::kCancelled, "cancelled"},
    {RunStatus::kSleeping, "sleeping"},
}};

}  // namespace

std::string_view durability_name(Durability d) {
  for (const auto& [value, name] : kDurabilityNames) {
    if (value == d) return name;
  }
  return "unknown";
}

Result<Durability> parse_durability(std::string_view name) {
  for (const auto& [value, known] : kDurabilityNames) {
    if (known == name) return value;
  }
  return Status::invalid_argument("durability '{}' is not one of full, effects, none", name);
}

std::string_view run_status_name(RunStatus s) {
  for (const auto& [value, name] : kStatusNames) {
    if (value == s) return name;
  }
  return "unknown";
}

Result<RunStatus> parse_run_status(std::string_view name) {
  for (const auto& [value, known] : kStatusNames) {
    if (known == name) return value;
  }
  return Status::invalid_argument(
      "run status '{}' is not one of running, paused, needs_attention, completed, failed, "
      "cancelled, sleeping",
      name);
}

Result<std::vector<PayloadText>> EventStore::read_payload_texts(const RunId& run,
                                                                const std::vector<uint64_t>& seqs,
                                                                size_t max_bytes) {
  ARTANA_ASSIGN_OR_RETURN(std::vector<Event> events, read_payloads(run, seqs, max_bytes));
  std::vector<PayloadText> out;
  out.reserve(events.size());
  for (Event& event : events) {
    out.push_back(PayloadText{std::move(event.type), event.seq, {}, std::move(event.payload)});
  }
  return out;
}

Result<AppendResult> EventStore::append_pipelined(AppendRequest request,
                                                  std::function<void(const Status&)> on_committed) {
  Result<AppendResult> appended = append(std::move(request));
  if (appended.ok() && on_committed) on_committed(Status());
  return appended;
}

void EventStore::renew_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                       std::function<void(const Status&)> on_done) {
  Status renewed = renew_lease(run, lease_epoch);
  if (on_done) on_done(renewed);
}

void EventStore::release_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                         std::function<void(const Status&)> on_done) {
  Status released = release_lease(run, lease_epoch);
  if (on_done) on_done(released);
}

}  // namespace artana::kernel
