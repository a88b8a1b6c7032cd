// Retry rules for a model or HTTP call, inside one step (a replay never sees the attempts):
// which failures are tried again, and after how long.
//
// The rules OpenAI's SDKs follow, so servers that tune them (`x-should-retry`,
// `retry-after-ms`, `Retry-After`) are obeyed the same way:
// - `x-should-retry: true|false` decides when present;
// - else 408, 409, 429 and 5xx, connection failures, a connect or idle timeout, a body cut
//   short or not the JSON promised are transient: tried again;
// - any other status (400, 401, 403, 404, 422, …) is permanent: one request;
// - the step's own deadline passing is a timeout that is never retried.
// The wait before attempt n+1 is 0.5 s × 2^(n−1), at most 8 s, less up to a quarter of
// random jitter, and never sooner than the server asked (`retry-after-ms`, else
// `Retry-After` in seconds or as an HTTP date), which is believed up to 60 s.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "artana/kernel/kernel_types.h"

namespace artana::io {

// What a failed attempt's step records as its failure's category (ModelOutcome::category).
using kernel::FailureCategory;

// How an attempt ended, as the transport saw it.
struct AttemptEnd {
  enum class Kind {
    kResponse,         // a whole response with `http_status`
    kConnectionError,  // refused, reset, DNS, TLS: no response
    kIdleTimeout,      // connect or idle timeout
    kDeadline,         // the step's own deadline passed
    kBadBody,          // a 2xx whose body was cut short or not the JSON promised
  };
  Kind kind = Kind::kResponse;
  int http_status = 0;
  // Response headers by lowercased name (only these three are read).
  std::optional<std::string> should_retry, retry_after_ms, retry_after;
};

struct RetryDecision {
  bool retry = false;
  int64_t delay_ms = 0;  // before the next attempt, when `retry`
  FailureCategory category = FailureCategory::kTransient;
};

struct RetryRules {
  int max_retries = 2;  // attempts = 1 + max_retries
  int64_t initial_delay_ms = 500, max_delay_ms = 8000, max_retry_after_ms = 60000;
};

// The decision after attempt `attempt` (1 for the first) failed as `end` (a 2xx response is
// not a failure: don't ask). `random01` gives the jitter, uniform in [0, 1); `now_unix_s`
// reads an HTTP-date Retry-After against the clock.
RetryDecision decide_retry(const AttemptEnd& end, int attempt, const RetryRules& rules,
                           const std::function<double()>& random01, int64_t now_unix_s);

// A Retry-After value in milliseconds from now: delta-seconds or an HTTP date (RFC 9110),
// nullopt when it is neither.
std::optional<int64_t> parse_retry_after_ms(std::string_view value, int64_t now_unix_s);

}  // namespace artana::io
