#include "lua_path.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>
#include <vector>

#include "artana/kernel/canonical_json.h"

namespace artana::lua::detail {

bool is_identifier(std::string_view key) {
  if (key.empty() || (key[0] >= '0' && key[0] <= '9')) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

std::string quote_key(std::string_view key) {
  constexpr size_t kMaxShown = 64;
  const bool valid = kernel::is_valid_utf8(key);
  size_t n = std::min(key.size(), kMaxShown);
  while (valid && n < key.size() && n > 0 && (static_cast<unsigned char>(key[n]) & 0xC0) == 0x80)
    --n;
  std::string out = "\"";
  for (unsigned char c : key.substr(0, n)) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else if (c >= 0x80 && !valid) {
      fmt::format_to(std::back_inserter(out), "\\x{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  if (n < key.size()) out += "…";
  out += '"';
  return out;
}

void append_key(std::string& path, std::string_view key) {
  if (is_identifier(key)) {
    if (!path.empty()) path += '.';
    path += key;
  } else {
    path += '[' + quote_key(key) + ']';
  }
}

std::string render_path(std::string_view root, const PathNode* leaf) {
  std::vector<const PathNode*> nodes;
  for (const PathNode* node = leaf; node != nullptr; node = node->parent) nodes.push_back(node);
  std::string out(root);
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    const PathNode& node = **it;
    if (node.is_index) {
      fmt::format_to(std::back_inserter(out), "[{}]", node.index);
    } else {
      append_key(out, node.key);
    }
  }
  return out.empty() ? std::string("value") : out;
}

}  // namespace artana::lua::detail
