// ECMAScript Number::toString for doubles: the number form RFC 8785 §3.2.2.3 requires.
//
// Shortest digits that round-trip (what `String(x)` prints in JavaScript), laid out as an
// integer up to 21 digits, a decimal, "0.000001"-style down to 1e-6, otherwise
// "1e+21" / "1.5e-7". Pure function, thread-safe.
#pragma once

#include <cstddef>

namespace artana::kernel {

// The longest output: "-0.0000033333333333333333" (sign, "0.", 5 zeros, 17 digits).
inline constexpr size_t kMaxEcmascriptNumberChars = 25;

// Writes the ECMAScript form of `value` at `out` and returns the end; -0 prints as "0".
// REQUIRES: std::isfinite(value) (JSON has no NaN or Infinity; the caller rejects them),
// and room for kMaxEcmascriptNumberChars bytes at `out`.
char* write_ecmascript_number(char* out, double value);

}  // namespace artana::kernel
