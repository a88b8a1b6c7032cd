#include "http_allow.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>

namespace artana::io {
namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// "host", "host:port", "[v6]", "[v6]:port" → host (brackets removed) and port (0: none).
Result<std::pair<std::string, int>> split_authority(std::string_view authority) {
  std::string_view host = authority;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::invalid_argument("an unclosed '['");
    host = authority.substr(1, close - 1);
    std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return Status::invalid_argument("text after ']'");
      port = rest.substr(1);
    }
  } else if (const size_t colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::invalid_argument("no host");
  for (char c : host) {
    if (std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '@' || c == '?' ||
        c == '#') {
      return Status::invalid_argument("'{}' is not a host", host);
    }
  }
  int number = 0;
  if (!port.empty()) {
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
    if (ec != std::errc() || end != port.data() + port.size() || number < 1 || number > 65535) {
      return Status::invalid_argument("'{}' is not a port (1..65535)", port);
    }
  }
  return std::make_pair(lowercase(host), number);
}

}  // namespace

Result<UrlHost> parse_url_host(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) {
    return Status::invalid_argument("'{}' is not an absolute http:// or https:// URL", url);
  }
  UrlHost out;
  out.scheme = lowercase(url.substr(0, scheme_end));
  if (out.scheme != "http" && out.scheme != "https") {
    return Status::invalid_argument("'{}' is not an http:// or https:// URL", url);
  }
  std::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (authority.find('@') != std::string_view::npos) {
    return Status::invalid_argument("'{}' has user info: put credentials in a header", url);
  }
  auto split = split_authority(authority);
  if (!split.ok()) return Status::invalid_argument("'{}': {}", url, split.status().message());
  out.host = std::move(split->first);
  out.port = split->second != 0 ? split->second : (out.scheme == "https" ? 443 : 80);
  return out;
}

Result<HttpAllowList> HttpAllowList::parse(const std::vector<std::string>& entries) {
  HttpAllowList list;
  for (const std::string& entry : entries) {
    auto split = split_authority(entry);
    if (!split.ok()) {
      return Status::invalid_argument("entry '{}': {} (host[:port])", entry,
                                      split.status().message());
    }
    list.entries_.push_back(Entry{std::move(split->first), split->second});
  }
  return list;
}

bool HttpAllowList::listed(std::string_view host, int port) const {
  for (const Entry& entry : entries_) {
    if (entry.host != host) continue;
    if (entry.port == port || (entry.port == 0 && (port == 80 || port == 443))) return true;
  }
  return false;
}

bool HttpAllowList::allows(const UrlHost& url) const { return listed(url.host, url.port); }

bool HttpAllowList::allows_address(const UrlHost& url, std::string_view ip) const {
  if (!is_internal_address(ip)) return true;
  if (url.host == ip || url.host == "localhost") return true;  // the URL named it
  return listed(lowercase(ip), url.port);
}

bool is_internal_address(std::string_view ip) {
  const std::string text(ip);
  unsigned char v4[4];
  if (::inet_pton(AF_INET, text.c_str(), v4) == 1) {
    return v4[0] == 127 || v4[0] == 10 || v4[0] == 0 || (v4[0] == 172 && (v4[1] & 0xf0) == 16) ||
           (v4[0] == 192 && v4[1] == 168) || (v4[0] == 169 && v4[1] == 254) ||
           (v4[0] == 100 && (v4[1] & 0xc0) == 64);  // carrier-grade NAT
  }
  unsigned char v6[16];
  if (::inet_pton(AF_INET6, text.c_str(), v6) != 1) return true;  // unreadable: not trusted
  static const unsigned char kLoopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  static const unsigned char kAny[16] = {};
  if (std::equal(v6, v6 + 16, kLoopback) || std::equal(v6, v6 + 16, kAny)) return true;
  if ((v6[0] & 0xfe) == 0xfc) return true;                   // unique local fc00::/7
  if (v6[0] == 0xfe && (v6[1] & 0xc0) == 0x80) return true;  // link-local fe80::/10
  const bool v4_mapped = std::all_of(v6, v6 + 10, [](unsigned char b) { return b == 0; }) &&
                         v6[10] == 0xff && v6[11] == 0xff;
  if (v4_mapped) {
    char mapped[INET_ADDRSTRLEN];
    ::inet_ntop(AF_INET, v6 + 12, mapped, sizeof mapped);
    return is_internal_address(mapped);
  }
  return false;
}

}  // namespace artana::io
