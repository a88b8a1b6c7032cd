#include "middleware/pii_redactor.h"

#include <algorithm>

#include "middleware/pii_scanner.h"

namespace artana::kernel {
namespace {

std::string scrub_string(PiiState& state, const std::string& text, ScrubMode mode,
                         Json& allocated) {
  std::vector<PiiSpan> spans = find_pii(text);
  if (spans.empty()) return text;
  std::string out;
  out.reserve(text.size());
  size_t at = 0;
  for (const PiiSpan& span : spans) {
    out.append(text, at, span.begin - at);
    std::string value = text.substr(span.begin, span.end - span.begin);
    auto known = state.placeholder_of.find(value);
    if (known == state.placeholder_of.end()) {
      const std::string label(pii_type_label(span.type));
      int64_t& count = state.counts[label];
      const int64_t number =
          (mode == ScrubMode::kLive ? std::max(count, state.recorded[label]) : count) + 1;
      count = number;
      const std::string placeholder = "[" + label + "_" + std::to_string(number) + "]";
      known = state.placeholder_of.emplace(std::move(value), placeholder).first;
      Json* n = allocated.find(label);
      if (n == nullptr) {
        allocated.set(label, Json(int64_t{1}));
      } else {
        *n = Json(n->as_integer() + 1);
      }
    }
    out += known->second;
    at = span.end;
  }
  out.append(text, at, std::string::npos);
  return out;
}

void scrub_value(PiiState& state, Json& value, ScrubMode mode, Json& allocated) {
  if (value.is_string()) {
    value.as_string() = scrub_string(state, value.as_string(), mode, allocated);
  } else if (value.is_array()) {
    for (Json& item : value.as_array()) scrub_value(state, item, mode, allocated);
  } else if (value.is_object()) {
    for (auto& [key, member] : value.as_object()) scrub_value(state, member, mode, allocated);
  }
}

void add_to(std::map<std::string, int64_t>& into, const Json* allocated) {
  if (allocated == nullptr || !allocated->is_object()) return;
  for (const auto& [label, n] : allocated->as_object()) {
    if (n.is_integer()) into[label] += n.as_integer();
  }
}

}  // namespace

bool contains_pii(const Json& value) {
  if (value.is_string()) return !find_pii(value.as_string()).empty();
  if (value.is_array()) {
    for (const Json& item : value.as_array()) {
      if (contains_pii(item)) return true;
    }
  } else if (value.is_object()) {
    for (const auto& [key, member] : value.as_object()) {
      if (contains_pii(member)) return true;
    }
  }
  return false;
}

void scrub_pii(PiiState& state, Json& value, ScrubMode mode, Json& allocated) {
  scrub_value(state, value, mode, allocated);
}

void advance_pii_counts(PiiState& state, const Json* allocated) { add_to(state.counts, allocated); }
void add_recorded_pii(PiiState& state, const Json* allocated) { add_to(state.recorded, allocated); }

}  // namespace artana::kernel
