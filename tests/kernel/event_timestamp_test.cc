// Event timestamps: the hand-written civil date agrees with gmtime_r everywhere a clock can be.
#include <catch2/catch.hpp>

#include <time.h>

#include <cstdint>
#include <cstdio>
#include <string>

#include "ledger/event_codec.h"

namespace {

std::string with_gmtime(int64_t unix_us) {
  time_t seconds = static_cast<time_t>(unix_us / 1'000'000);
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  struct tm tm_utc;
  gmtime_r(&seconds, &tm_utc);
  char out[64];
  std::snprintf(out, sizeof out, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", tm_utc.tm_year + 1900,
                tm_utc.tm_mon + 1, tm_utc.tm_mday, tm_utc.tm_hour, tm_utc.tm_min, tm_utc.tm_sec,
                static_cast<int>(micros));
  return out;
}

}  // namespace

TEST_CASE("event timestamps match gmtime from 1970 to 9999, leap days and negatives included") {
  using artana::kernel::ledger::format_timestamp;
  CHECK(format_timestamp(0) == "1970-01-01T00:00:00.000000Z");
  CHECK(format_timestamp(951'782'400'000'001) == "2000-02-29T00:00:00.000001Z");
  CHECK(format_timestamp(-1) == "1969-12-31T23:59:59.999999Z");
  CHECK(format_timestamp(253'402'300'799'999'999) == "9999-12-31T23:59:59.999999Z");
  // Every day from 1900 to 2400 at a moment that walks through the day, and some microseconds.
  int mismatches = 0;
  for (int64_t day = -25'567; day < 157'000 && mismatches < 5; ++day) {
    const int64_t us = day * 86'400'000'000 + (day * 7'919'000'013) % 86'400'000'000;
    if (format_timestamp(us) != with_gmtime(us)) {
      ++mismatches;
      CHECK(format_timestamp(us) == with_gmtime(us));
    }
  }
  CHECK(mismatches == 0);
}
