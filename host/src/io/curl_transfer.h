// CurlTransfer: one HttpCall as a libcurl easy handle — its options, the callbacks that
// gather the response, and the HttpResult read back when libcurl says it is done. Used by
// the I/O thread only (io_thread.cc).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "artana/kernel/status.h"
#include "curl_library.h"
#include "http_transfer.h"

namespace artana::io {

class CurlTransfer {
 public:
  // The easy handle with every option set; kInvalidArgument when libcurl refuses one.
  static Result<std::unique_ptr<CurlTransfer>> create(const CurlLibrary& curl, HttpCall call,
                                                      uint64_t id, uint64_t owner);
  ~CurlTransfer();
  CurlTransfer(const CurlTransfer&) = delete;
  CurlTransfer& operator=(const CurlTransfer&) = delete;

  CURL* easy() const { return easy_; }
  uint64_t id() const { return id_; }
  uint64_t owner() const { return owner_; }
  const HttpCall& call() const { return call_; }
  // "scheme://host:port" of the URL: what the per-host cap counts.
  const std::string& host_key() const { return host_key_; }
  std::chrono::steady_clock::time_point due;  // when its wait ends

  // The result once libcurl finished the transfer with `code`.
  HttpResult finish(CURLcode code);
  // A result without a transfer (libcurl refused to start it, say).
  static HttpResult failed(std::string message);

 private:
  CurlTransfer(const CurlLibrary& curl, HttpCall call, uint64_t id, uint64_t owner);
  Status configure();
  static size_t on_body(char* data, size_t size, size_t count, void* self);
  static size_t on_header(char* data, size_t size, size_t count, void* self);
  static int on_connected(void* self, char* primary_ip, char* local_ip, int primary_port,
                          int local_port);

  const CurlLibrary& curl_;
  HttpCall call_;
  uint64_t id_, owner_;
  std::string host_key_;
  CURL* easy_ = nullptr;
  curl_slist* headers_ = nullptr;
  HttpResult result_;
  bool refused_ = false;  // allow_address said no
  char error_[CURL_ERROR_SIZE] = {};
};

// "scheme://host:port" (lowercased, the default port filled in) of an absolute URL; the URL
// itself when it has no scheme.
std::string url_host_key(std::string_view url);

}  // namespace artana::io
