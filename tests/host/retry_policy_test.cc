// Retry rules inside a step: which failures are tried again and after how long.
#include <catch2/catch.hpp>

#include "retry_policy.h"

using artana::io::AttemptEnd;
using artana::io::decide_retry;
using artana::io::FailureCategory;
using artana::io::parse_retry_after_ms;
using artana::io::RetryRules;

namespace {

constexpr int64_t kNow = 1700000000;  // 2023-11-14T22:13:20Z

AttemptEnd response(int status) {
  AttemptEnd end;
  end.http_status = status;
  return end;
}

auto no_jitter = [] { return 0.0; };

}  // namespace

TEST_CASE("transient statuses and transport failures are retried, others are not", "[io][retry]") {
  const RetryRules rules;
  for (int status : {408, 409, 429, 500, 502, 503, 504}) {
    INFO(status);
    auto d = decide_retry(response(status), 1, rules, no_jitter, kNow);
    CHECK(d.retry);
    CHECK(d.category == FailureCategory::kTransient);
  }
  for (int status : {400, 401, 403, 404, 422, 418}) {
    INFO(status);
    auto d = decide_retry(response(status), 1, rules, no_jitter, kNow);
    CHECK_FALSE(d.retry);
    CHECK(d.category == FailureCategory::kPermanent);
  }
  AttemptEnd reset;
  reset.kind = AttemptEnd::Kind::kConnectionError;
  CHECK(decide_retry(reset, 1, rules, no_jitter, kNow).retry);
  AttemptEnd cut;
  cut.kind = AttemptEnd::Kind::kBadBody;
  CHECK(decide_retry(cut, 1, rules, no_jitter, kNow).retry);
  AttemptEnd idle;
  idle.kind = AttemptEnd::Kind::kIdleTimeout;
  auto d = decide_retry(idle, 1, rules, no_jitter, kNow);
  CHECK(d.retry);
  CHECK(d.category == FailureCategory::kTimeout);
  AttemptEnd deadline;
  deadline.kind = AttemptEnd::Kind::kDeadline;
  d = decide_retry(deadline, 1, rules, no_jitter, kNow);
  CHECK_FALSE(d.retry);
  CHECK(d.category == FailureCategory::kTimeout);
  // Attempts run out: the default is two retries, three attempts.
  CHECK(decide_retry(response(500), 2, rules, no_jitter, kNow).retry);
  CHECK_FALSE(decide_retry(response(500), 3, rules, no_jitter, kNow).retry);
}

TEST_CASE("the server's x-should-retry overrides the status", "[io][retry]") {
  const RetryRules rules;
  AttemptEnd stop = response(503);
  stop.should_retry = "false";
  CHECK_FALSE(decide_retry(stop, 1, rules, no_jitter, kNow).retry);
  AttemptEnd go = response(400);
  go.should_retry = " true";
  CHECK(decide_retry(go, 1, rules, no_jitter, kNow).retry);
  AttemptEnd unclear = response(503);
  unclear.should_retry = "maybe";
  CHECK(decide_retry(unclear, 1, rules, no_jitter, kNow).retry);
}

TEST_CASE("the wait doubles from 0.5 s up to 8 s, less up to a quarter of jitter", "[io][retry]") {
  RetryRules rules;
  rules.max_retries = 10;
  CHECK(decide_retry(response(500), 1, rules, no_jitter, kNow).delay_ms == 500);
  CHECK(decide_retry(response(500), 2, rules, no_jitter, kNow).delay_ms == 1000);
  CHECK(decide_retry(response(500), 4, rules, no_jitter, kNow).delay_ms == 4000);
  CHECK(decide_retry(response(500), 9, rules, no_jitter, kNow).delay_ms == 8000);
  const auto most_jitter = [] { return 0.999999; };
  const int64_t jittered = decide_retry(response(500), 2, rules, most_jitter, kNow).delay_ms;
  CHECK(jittered >= 750);
  CHECK(jittered < 760);
}

TEST_CASE("a retry never comes sooner than the server asked, believed up to 60 s", "[io][retry]") {
  const RetryRules rules;
  AttemptEnd later = response(429);
  later.retry_after = "2";
  CHECK(decide_retry(later, 1, rules, no_jitter, kNow).delay_ms == 2000);
  AttemptEnd ms = response(429);
  ms.retry_after_ms = "3500";
  ms.retry_after = "1";  // retry-after-ms is the more precise and wins
  CHECK(decide_retry(ms, 1, rules, no_jitter, kNow).delay_ms == 3500);
  AttemptEnd sooner = response(429);
  sooner.retry_after_ms = "100";  // sooner than the backoff: the backoff stands
  CHECK(decide_retry(sooner, 1, rules, no_jitter, kNow).delay_ms == 500);
  AttemptEnd far = response(503);
  far.retry_after = "3600";
  CHECK(decide_retry(far, 1, rules, no_jitter, kNow).delay_ms == 60000);
  AttemptEnd dated = response(503);
  dated.retry_after = "Tue, 14 Nov 2023 22:13:27 GMT";  // kNow + 7 s
  CHECK(decide_retry(dated, 1, rules, no_jitter, kNow).delay_ms == 7000);
  AttemptEnd garbage = response(503);
  garbage.retry_after = "soon";
  garbage.retry_after_ms = "-5";
  CHECK(decide_retry(garbage, 1, rules, no_jitter, kNow).delay_ms == 500);
}

TEST_CASE("Retry-After reads delta-seconds and HTTP dates, nothing else", "[io][retry]") {
  CHECK(parse_retry_after_ms("0", kNow) == 0);
  CHECK(parse_retry_after_ms(" 1.5 ", kNow) == 1500);
  CHECK(parse_retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", kNow) == 0);
  CHECK(parse_retry_after_ms("Tue, 14 Nov 2023 22:12:00 GMT", kNow) == 0);  // past: now
  CHECK_FALSE(parse_retry_after_ms("", kNow).has_value());
  CHECK_FALSE(parse_retry_after_ms("-1", kNow).has_value());
  CHECK_FALSE(parse_retry_after_ms("2023-11-14T22:13:27Z", kNow).has_value());
  CHECK_FALSE(parse_retry_after_ms("Tue, 14 Nov 2023 22:13:27 GMT trailing", kNow).has_value());
}
