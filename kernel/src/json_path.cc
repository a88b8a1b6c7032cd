#include "json_path.h"

#include "jcs_string.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace artana::kernel {
namespace {

bool is_identifier(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// The first `max` bytes of `key`, moved back so no UTF-8 sequence or escape is split.
std::string_view clip(std::string_view key, size_t max, bool escaped) {
  if (key.size() <= max) return key;
  size_t n = max;
  while (n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80) --n;
  if (escaped && n > 0) {
    // A backslash starts an escape of at most 6 bytes (\uXXXX): cut before any that the
    // limit would split.
    size_t backslash = key.rfind('\\', n - 1);
    if (backslash != std::string_view::npos && n - backslash < 6) {
      size_t run = 0;  // an even run of backslashes before it makes it an escape's end
      while (backslash > run && key[backslash - run - 1] == '\\') ++run;
      if (run % 2 == 0) n = backslash;
    }
  }
  return key.substr(0, n);
}

}  // namespace

std::string quote_json_key(std::string_view key, bool escaped) {
  std::string out = "\"";
  if (escaped) {
    std::string_view shown = clip(key, kMaxKeyBytesShown, escaped);
    out += shown;
    if (shown.size() < key.size()) out += "…";
  } else {
    append_key_for_message(out, key);  // escapes, shows invalid UTF-8 as \xNN, clips
  }
  out += '"';
  return out;
}

std::string render_json_path(std::span<const PathSegment> path, std::string_view root) {
  std::string out(root);
  for (const PathSegment& segment : path) {
    if (!segment.is_key) {
      fmt::format_to(std::back_inserter(out), "[{}]", segment.index);
    } else if (is_identifier(segment.key)) {
      if (!out.empty()) out += '.';
      out += segment.key;
    } else {
      out += '[';
      out += quote_json_key(segment.key, segment.key_is_escaped);
      out += ']';
    }
  }
  return out;
}

}  // namespace artana::kernel
