// HttpAllowList: the hosts `run:http` may reach (`--http-allow host[:port],…`), judged on
// the URL of every request and redirect, and on the address each connection reached.
//
// An entry is a host name or an IP address (IPv6 in brackets), with an optional port; no
// port allows the scheme's default ports (80, 443). Names compare case-insensitively and
// exactly (no wildcards: `example.com` does not allow `api.example.com`).
//
// The address check stops a name from smuggling a request somewhere else (DNS rebinding):
// a connection to a loopback, private or link-local address is allowed only when that
// address is itself an entry, or the URL named it (an IP entry), or the name is
// `localhost`.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/status.h"

namespace artana::io {

// The parts of an absolute http(s) URL that the list judges.
struct UrlHost {
  std::string scheme;  // "http" or "https"
  std::string host;    // lowercased; an IPv6 address without its brackets
  int port = 0;        // the URL's, else the scheme's default
};
// kInvalidArgument naming what is wrong (not http(s), no host, a bad port, user info).
Result<UrlHost> parse_url_host(std::string_view url);

class HttpAllowList {
 public:
  // kInvalidArgument naming the bad entry.
  static Result<HttpAllowList> parse(const std::vector<std::string>& entries);

  bool empty() const { return entries_.empty(); }
  // The URL's host and port are listed.
  bool allows(const UrlHost& url) const;
  // A connection for `url` that reached `ip` may be used.
  bool allows_address(const UrlHost& url, std::string_view ip) const;

 private:
  struct Entry {
    std::string host;
    int port = 0;  // 0: the default ports
  };
  bool listed(std::string_view host, int port) const;
  std::vector<Entry> entries_;
};

// Whether `ip` (dotted IPv4 or IPv6 text) is loopback, private (RFC 1918, fc00::/7),
// link-local or unspecified: where a public name has no business connecting.
bool is_internal_address(std::string_view ip);

}  // namespace artana::io
