// Helpers shared by the PII scanner tests: what find_pii reports, as "LABEL:text".
#pragma once

#include <catch2/catch.hpp>

#include <cctype>
#include <string>
#include <string_view>
#include <vector>

#include "middleware/pii_scanner.h"

namespace artana::testing {

// "LABEL:text" for each span, so a failure shows what was found, not only how many.
inline std::vector<std::string> found(std::string_view text) {
  std::vector<std::string> out;
  for (const kernel::PiiSpan& s : kernel::find_pii(text)) {
    out.push_back(std::string(kernel::pii_type_label(s.type)) + ":" +
                  std::string(text.substr(s.begin, s.end - s.begin)));
  }
  return out;
}

struct Positive {
  std::string text;
  std::string match;  // the one span expected, as "LABEL:text"
};

inline void check_positives(const std::vector<Positive>& cases) {
  for (const Positive& c : cases) {
    CAPTURE(c.text);
    CHECK(found(c.text) == std::vector<std::string>{c.match});
  }
}

inline void check_negatives(const std::vector<std::string>& texts) {
  for (const std::string& text : texts) {
    CAPTURE(text);
    CHECK(found(text).empty());
  }
}

inline bool is_word(char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '_'; }

inline const std::string kSha256 =
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

}  // namespace artana::testing
