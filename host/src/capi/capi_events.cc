// Events for the application (artana.h, "events"): what the kernel commits, classified,
// queued as JSON and handed to the callback at the end of a tick.
#include <spdlog/spdlog.h>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/step_kind.h"
#include "capi_internal.h"

using artana::kernel::Json;
using namespace artana::capi;

namespace {

// A step's events: each step kind's opener and terminals (the kernel's table, so a new step
// kind is heard without a change here), and the records a step may add (a reconciled
// outcome, a refusal).
bool is_step_event(std::string_view type) {
  if (type == "tool_reconciled" || type == "step_denied") return true;
  for (const artana::kernel::StepKindRow& row : artana::kernel::kStepKinds) {
    if (type == row.opened || type == row.ended[0] || type == row.ended[1]) return !type.empty();
  }
  return false;
}

void queue(artana_host& host, int kind, const Json& value) {
  auto text = artana::kernel::canonical_json(value);
  if (text.ok()) host.pending_events.emplace_back(kind, std::move(*text));
}

Json base(const char* kind, const artana::kernel::Event& event) {
  return Json::object({{"kind", kind},
                       {"run_id", event.run_id.str()},
                       {"seq", static_cast<int64_t>(event.seq)},
                       {"type", event.type}});
}

void copy_field(Json& to, const Json& from, const char* field) {
  if (const Json* value = from.find(field)) to.set(field, *value);
}

}  // namespace

namespace artana::capi {

void observe_event(artana_host& host, const kernel::Event& event,
                   std::optional<kernel::RunStatus> status) {
  if (host.event_fn == nullptr || host.event_mask == 0) return;
  // Told by the kernel with the append that changed it: a sleep that ends at once, or a
  // pause of a run that is not running, changes nothing and is heard as a step only.
  if (status && (host.event_mask & ARTANA_EVENT_STATUS) != 0) {
    Json out = base("status", event);
    out.set("status", std::string(kernel::run_status_name(*status)));
    queue(host, ARTANA_EVENT_STATUS, out);
  }
  if (event.type == "replayed_with_drift") {
    const bool fork = event.payload.find("fork_run_id") != nullptr;
    const int kind = fork ? ARTANA_EVENT_FORK : ARTANA_EVENT_DRIFT;
    if ((host.event_mask & kind) == 0) return;
    Json out = base(fork ? "fork" : "drift", event);
    copy_field(out, event.payload, "step_key");
    copy_field(out, event.payload, fork ? "fork_run_id" : "drift_fields");
    return queue(host, kind, out);
  }
  if ((host.event_mask & ARTANA_EVENT_STEP) != 0 && is_step_event(event.type)) {
    Json out = base("step", event);
    copy_field(out, event.payload, "step_key");
    queue(host, ARTANA_EVENT_STEP, out);
  }
}

void observe_print(artana_host& host, const kernel::RunId& run, std::string_view line) {
  if (host.event_fn != nullptr && (host.event_mask & ARTANA_EVENT_LOG) != 0) {
    return queue(
        host, ARTANA_EVENT_LOG,
        Json::object({{"kind", "log"}, {"run_id", run.str()}, {"line", std::string(line)}}));
  }
  // As the host logs a print without a sink: escaped, so a script cannot forge a log line.
  spdlog::info("[{}] {}", run.str(), kernel::one_line_text(line));
}

void deliver_events(artana_host& host) {
  if (host.pending_events.empty() || host.event_fn == nullptr) return;
  std::vector<std::pair<int, std::string>> events;
  events.swap(host.pending_events);
  ++host.callback_depth;
  for (const auto& [kind, json] : events) {
    const artana_event event{kind, &json};
    host.event_fn(host.event_user, &event);
  }
  --host.callback_depth;
}

}  // namespace artana::capi

extern "C" {

artana_status artana_host_set_event_callback(artana_host* host, unsigned mask, artana_event_fn fn,
                                             void* user) {
  constexpr const char* kFunction = "artana_host_set_event_callback";
  return guarded(kFunction, [&] {
    if (host == nullptr) return null_argument(kFunction, "host");
    HostCall call(*host);
    if ((mask & ~static_cast<unsigned>(ARTANA_EVENT_ALL)) != 0) {
      return fail(kFunction, ARTANA_E_INVALID_ARGUMENT,
                  "mask " + std::to_string(mask) + " has bits no ARTANA_EVENT_* names");
    }
    host->event_mask = fn == nullptr ? 0 : mask;
    host->event_fn = mask == 0 ? nullptr : fn;
    host->event_user = user;
    if (host->event_fn == nullptr) host->pending_events.clear();
    return ok();
  });
}

int artana_event_kind(const artana_event* event) { return event == nullptr ? 0 : event->kind; }

const char* artana_event_json(const artana_event* event, size_t* len) {
  if (event == nullptr || event->json == nullptr) {
    if (len != nullptr) *len = 0;
    return "";
  }
  if (len != nullptr) *len = event->json->size();
  return event->json->c_str();
}

}  // extern "C"
