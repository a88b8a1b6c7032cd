// HttpTestServer: a real HTTP/1.1 server on 127.0.0.1 (a random free port) for the tests and
// benchmarks of the outside-world issue: what it answers is up to a handler, per request.
//
// One thread accepts; each connection gets a thread of its own (a test with 100 requests in
// flight has 100), reads requests (Content-Length bodies, keep-alive), and writes the
// handler's Reply: at once, after a delay, streamed in timed pieces (chunked encoding, as a
// Server-Sent Events answer comes), or cut off after some bytes (the connection dropped
// mid-body). Every request is logged, in arrival order, for the test to assert on.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace artana::testing {

struct HttpRequest {
  std::string method, target, body;
  std::map<std::string, std::string> headers;  // names lowercased
  std::string header(const std::string& lowercase_name) const;
};

struct HttpReply {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;  // sent whole with Content-Length, unless `stream` is set
  // Streamed instead (chunked): each piece written after its delay.
  struct Piece {
    int delay_ms = 0;
    std::string bytes;
  };
  std::vector<Piece> stream;
  int delay_ms = 0;              // before anything is written
  int64_t cut_after_bytes = -1;  // >= 0: close the connection after this many body bytes
};

class HttpTestServer {
 public:
  using Handler = std::function<HttpReply(const HttpRequest&)>;
  explicit HttpTestServer(Handler handler);
  ~HttpTestServer();  // stops accepting, closes every connection, joins every thread
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string url(const std::string& path = "") const;  // "http://127.0.0.1:<port><path>"
  std::vector<HttpRequest> requests() const;            // every request so far, in order
  size_t request_count() const;
  // The server's own time so far, summed over requests: from a request read whole to its
  // reply written (a benchmark subtracts it; delays asked for are included).
  int64_t served_ns() const { return served_ns_.load(); }
  // Waits (up to `timeout_ms`) until at least `n` requests have arrived; false on timeout.
  bool wait_for_requests(size_t n, int timeout_ms = 10000) const;

 private:
  void accept_loop();
  void serve(int fd);
  bool write_reply(int fd, const HttpReply& reply);

  Handler handler_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int64_t> served_ns_{0};
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable arrived_;
  std::vector<HttpRequest> log_;
  std::vector<std::thread> connections_;
  std::vector<int> open_fds_;
};

}  // namespace artana::testing
