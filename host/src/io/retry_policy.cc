#include "retry_policy.h"

#include <time.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>

namespace artana::io {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// A non-negative decimal number (digits, optionally a fraction), or nullopt.
std::optional<double> parse_number(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.front() == '-' || s.front() == '+') return std::nullopt;
  double value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

bool transient_status(int status) {
  return status == 408 || status == 409 || status == 429 || status >= 500;
}

}  // namespace

std::optional<int64_t> parse_retry_after_ms(std::string_view value, int64_t now_unix_s) {
  value = trim(value);
  if (std::optional<double> seconds = parse_number(value)) {
    return static_cast<int64_t>(std::min(*seconds, 1e12) * 1000.0);
  }
  // IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT" (the only form senders may use).
  const std::string text(value);
  tm parsed{};
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &parsed);
  if (end == nullptr || *end != '\0') return std::nullopt;
  const int64_t at = static_cast<int64_t>(timegm(&parsed));
  return std::max<int64_t>(0, (at - now_unix_s) * 1000);
}

RetryDecision decide_retry(const AttemptEnd& end, int attempt, const RetryRules& rules,
                           const std::function<double()>& random01, int64_t now_unix_s) {
  RetryDecision decision;
  bool retryable = false;
  switch (end.kind) {
    case AttemptEnd::Kind::kResponse:
      retryable = transient_status(end.http_status);
      decision.category = retryable ? FailureCategory::kTransient : FailureCategory::kPermanent;
      break;
    case AttemptEnd::Kind::kConnectionError:
    case AttemptEnd::Kind::kBadBody:
      retryable = true;
      decision.category = FailureCategory::kTransient;
      break;
    case AttemptEnd::Kind::kIdleTimeout:
      retryable = true;
      decision.category = FailureCategory::kTimeout;
      break;
    case AttemptEnd::Kind::kDeadline:
      decision.category = FailureCategory::kTimeout;
      return decision;  // the step's time is up: nothing more is tried
  }
  if (end.should_retry) {
    // The server's word overrides the status (a 429 that will not clear, a 400 that will).
    const std::string_view said = trim(*end.should_retry);
    if (said == "true") retryable = true;
    if (said == "false") retryable = false;
  }
  if (!retryable || attempt > rules.max_retries) return decision;
  decision.retry = true;
  const double backoff =
      std::min<double>(static_cast<double>(rules.initial_delay_ms) * std::pow(2.0, attempt - 1),
                       static_cast<double>(rules.max_delay_ms));
  const double jitter = 1.0 - 0.25 * std::clamp(random01(), 0.0, 1.0);
  decision.delay_ms = static_cast<int64_t>(backoff * jitter);
  std::optional<int64_t> asked;
  if (end.retry_after_ms) {
    if (std::optional<double> ms = parse_number(*end.retry_after_ms)) {
      asked = static_cast<int64_t>(std::min(*ms, 1e15));
    }
  }
  if (!asked && end.retry_after) asked = parse_retry_after_ms(*end.retry_after, now_unix_s);
  if (asked)
    decision.delay_ms = std::max(decision.delay_ms, std::min(*asked, rules.max_retry_after_ms));
  return decision;
}

}  // namespace artana::io
