// One HTTP request as the I/O thread makes it, and how it ended. Plain values: the host's
// thread builds the request and reads the result; only the I/O thread touches libcurl.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace artana::io {

struct HttpCall {
  std::string method = "POST";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  std::string body;
  int64_t connect_timeout_ms = 10'000;
  // With no byte received for this long the transfer fails (a long stream that keeps
  // sending never does). libcurl counts it in whole seconds: rounded up.
  int64_t idle_timeout_ms = 120'000;
  int64_t deadline_ms = 600'000;             // the whole transfer, from when it starts
  int64_t start_after_ms = 0;                // wait this long first (a retry's backoff)
  size_t max_body_bytes = size_t{64} << 20;  // more is not read: `truncated`
  // At most this many transfers at once to the URL's scheme, host and port; the others
  // queue (in submission order).
  int max_host_connections = 64;
  // Asked before the request is sent, with the address the connection reached: false
  // aborts it (kRefused). A DNS answer cannot smuggle a request to a host not allowed.
  // Runs on the I/O thread: it must be thread-safe and quick.
  std::function<bool(std::string_view ip)> allow_address;
};

struct HttpResult {
  enum class Transport {
    kOk,              // a response: `status`, `headers`, `body`
    kConnectFailed,   // no connection (refused, reset, DNS, TLS)
    kTimeout,         // the connect or idle timeout
    kDeadline,        // the call's deadline
    kBrokenResponse,  // the connection dropped mid-response, or the response is not HTTP
    kRefused,         // allow_address said no
    kFailed,          // anything else libcurl reports
  };
  Transport transport = Transport::kOk;
  std::string error;  // libcurl's explanation when not kOk
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lowercased, in order
  std::string body;
  bool truncated = false;    // the body was longer than max_body_bytes
  std::string redirect_url;  // a 3xx's Location, resolved against the request's URL
  std::string primary_ip;    // the address the connection reached
  int64_t elapsed_ms = 0;    // from the request's start (its wait not included)
  // The request was (at least partly) sent: a failure after this may have had its effect.
  bool request_sent = false;

  // The first header of that lowercased name, or nullptr.
  const std::string* header(std::string_view lowercase_name) const;
};

std::string_view transport_name(HttpResult::Transport transport);

}  // namespace artana::io
