#include "support/http_test_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace artana::testing {
namespace {

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

bool write_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t wrote = ::send(fd, data, n, MSG_NOSIGNAL);
    if (wrote <= 0) return false;
    data += wrote;
    n -= static_cast<size_t>(wrote);
  }
  return true;
}

bool write_all(int fd, const std::string& s) { return write_all(fd, s.data(), s.size()); }

void sleep_ms(int ms) {
  if (ms > 0) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
}

const char* reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 404:
      return "Not Found";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

}  // namespace

std::string HttpRequest::header(const std::string& lowercase_name) const {
  auto it = headers.find(lowercase_name);
  return it == headers.end() ? std::string() : it->second;
}

HttpTestServer::HttpTestServer(Handler handler) : handler_(std::move(handler)) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) throw std::runtime_error("socket() failed");
  const int yes = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 1024) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listen_fd_);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

HttpTestServer::~HttpTestServer() {
  stopping_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes the acceptor's poll
  acceptor_.join();
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : open_fds_) ::shutdown(fd, SHUT_RDWR);  // ends their reads
    threads.swap(connections_);
  }
  for (std::thread& t : threads) t.join();
  ::close(listen_fd_);
}

std::string HttpTestServer::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

std::vector<HttpRequest> HttpTestServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_;
}

size_t HttpTestServer::request_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return log_.size();
}

bool HttpTestServer::wait_for_requests(size_t n, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return arrived_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                           [&] { return log_.size() >= n; });
}

void HttpTestServer::accept_loop() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    const int yes = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &yes, sizeof yes);
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) {
      ::close(fd);
      break;
    }
    open_fds_.push_back(fd);
    connections_.emplace_back([this, fd] { serve(fd); });
  }
}

void HttpTestServer::serve(int fd) {
  std::string buffer;
  // Reads until `enough` holds of the buffer; false when the peer closed first.
  auto read_until = [&](auto enough) {
    char chunk[16384];
    while (!enough()) {
      const ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
      if (n <= 0) return false;
      buffer.append(chunk, static_cast<size_t>(n));
    }
    return true;
  };
  bool open = true;
  while (open && !stopping_) {
    size_t head_end = std::string::npos;
    if (!read_until([&] { return (head_end = buffer.find("\r\n\r\n")) != std::string::npos; }))
      break;
    HttpRequest request;
    const std::string head = buffer.substr(0, head_end);
    buffer.erase(0, head_end + 4);
    size_t line_end = head.find("\r\n");
    const std::string request_line = head.substr(0, line_end);
    const size_t sp1 = request_line.find(' '), sp2 = request_line.rfind(' ');
    request.method = request_line.substr(0, sp1);
    request.target = request_line.substr(sp1 + 1, sp2 - sp1 - 1);
    while (line_end != std::string::npos) {
      const size_t start = line_end + 2;
      line_end = head.find("\r\n", start);
      const std::string line =
          head.substr(start, line_end == std::string::npos ? std::string::npos : line_end - start);
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      size_t value_at = colon + 1;
      while (value_at < line.size() && line[value_at] == ' ') ++value_at;
      request.headers[lowercase(line.substr(0, colon))] = line.substr(value_at);
    }
    // The body (Content-Length only: libcurl sends no chunked request bodies here).
    const size_t length =
        request.header("content-length").empty() ? 0 : std::stoul(request.header("content-length"));
    if (!read_until([&] { return buffer.size() >= length; })) break;
    const auto whole = std::chrono::steady_clock::now();
    request.body = buffer.substr(0, length);
    buffer.erase(0, length);
    {
      std::lock_guard<std::mutex> lock(mu_);
      log_.push_back(request);
    }
    arrived_.notify_all();
    open = write_reply(fd, handler_(request)) && lowercase(request.header("connection")) != "close";
    served_ns_ += std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now() - whole)
                      .count();
  }
  std::lock_guard<std::mutex> lock(mu_);
  open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
  ::close(fd);
}

bool HttpTestServer::write_reply(int fd, const HttpReply& reply) {
  sleep_ms(reply.delay_ms);
  const bool streamed = !reply.stream.empty();
  std::string head =
      "HTTP/1.1 " + std::to_string(reply.status) + " " + reason(reply.status) + "\r\n";
  for (const auto& [name, value] : reply.headers) head += name + ": " + value + "\r\n";
  head += streamed ? "Transfer-Encoding: chunked\r\n"
                   : "Content-Length: " + std::to_string(reply.body.size()) + "\r\n";
  head += "\r\n";
  if (!write_all(fd, head)) return false;
  int64_t budget = reply.cut_after_bytes;  // body bytes still allowed (-1: no limit)
  auto send_body = [&](const std::string& bytes) {
    if (budget < 0) return write_all(fd, bytes);
    const size_t n = std::min<size_t>(bytes.size(), static_cast<size_t>(budget));
    budget -= static_cast<int64_t>(n);
    write_all(fd, bytes.data(), n);
    return n == bytes.size();
  };
  if (!streamed) return send_body(reply.body);
  for (const HttpReply::Piece& piece : reply.stream) {
    sleep_ms(piece.delay_ms);
    if (stopping_) return false;
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.bytes.size());
    if (piece.bytes.empty()) continue;  // an empty chunk would end the body
    if (!send_body(size + piece.bytes + "\r\n")) return false;
  }
  return send_body("0\r\n\r\n");
}

}  // namespace artana::testing
