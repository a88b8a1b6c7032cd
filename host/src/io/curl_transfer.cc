#include "curl_transfer.h"

#include <algorithm>
#include <cctype>

namespace artana::io {

namespace {

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r' ||
                           text.back() == '\n')) {
    text.remove_suffix(1);
  }
  return text;
}

HttpResult::Transport transport_of(CURLcode code) {
  using T = HttpResult::Transport;
  switch (code) {
    case CURLE_OK:
      return T::kOk;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SEND_ERROR:
      return T::kConnectFailed;
    case CURLE_OPERATION_TIMEDOUT:
      return T::kTimeout;
    case CURLE_RECV_ERROR:
    case CURLE_PARTIAL_FILE:
    case CURLE_GOT_NOTHING:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_BAD_CONTENT_ENCODING:
      return T::kBrokenResponse;
    default:
      return T::kFailed;
  }
}

}  // namespace

std::string url_host_key(std::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) return std::string(url);
  const std::string scheme = lowercase(url.substr(0, scheme_end));
  std::string_view rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (const size_t at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  std::string authority = lowercase(rest);
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  const bool has_port =
      colon != std::string::npos && (bracket == std::string::npos || colon > bracket);
  if (!has_port) authority += scheme == "https" ? ":443" : ":80";
  return scheme + "://" + authority;
}

std::string_view transport_name(HttpResult::Transport transport) {
  using T = HttpResult::Transport;
  switch (transport) {
    case T::kOk:
      return "ok";
    case T::kConnectFailed:
      return "connect_failed";
    case T::kTimeout:
      return "timeout";
    case T::kDeadline:
      return "deadline";
    case T::kBrokenResponse:
      return "broken_response";
    case T::kRefused:
      return "refused";
    case T::kFailed:
      return "failed";
  }
  return "failed";
}

const std::string* HttpResult::header(std::string_view lowercase_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lowercase_name) return &value;
  }
  return nullptr;
}

CurlTransfer::CurlTransfer(const CurlLibrary& curl, HttpCall call, uint64_t id, uint64_t owner)
    : curl_(curl),
      call_(std::move(call)),
      id_(id),
      owner_(owner),
      host_key_(url_host_key(call_.url)) {}

CurlTransfer::~CurlTransfer() {
  if (easy_ != nullptr) curl_.easy_cleanup(easy_);
  if (headers_ != nullptr) curl_.slist_free_all(headers_);
}

Result<std::unique_ptr<CurlTransfer>> CurlTransfer::create(const CurlLibrary& curl, HttpCall call,
                                                           uint64_t id, uint64_t owner) {
  std::unique_ptr<CurlTransfer> transfer(new CurlTransfer(curl, std::move(call), id, owner));
  transfer->easy_ = curl.easy_init();
  if (transfer->easy_ == nullptr) return Status::internal("curl_easy_init failed");
  ARTANA_RETURN_IF_ERROR(transfer->configure());
  return transfer;
}

Status CurlTransfer::configure() {
  CURLcode code = CURLE_OK;
  auto set = [&](CURLoption option, auto value) {
    if (code == CURLE_OK) code = curl_.easy_setopt(easy_, option, value);
  };
  set(CURLOPT_URL, call_.url.c_str());
  set(CURLOPT_PRIVATE, static_cast<void*>(this));
  set(CURLOPT_ERRORBUFFER, error_);
  set(CURLOPT_NOSIGNAL, 1L);
  // Only the web, and never through a proxy named by the environment: what a step reaches
  // is what its URL says.
  set(CURLOPT_PROTOCOLS_STR, "http,https");
  set(CURLOPT_PROXY, "");
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_ACCEPT_ENCODING, "");
  // Over TLS a new request waits for a connection being set up, to multiplex on it if it
  // speaks HTTP/2. Plain http is HTTP/1.1 here: waiting would only serialize the requests.
  if (host_key_.rfind("https://", 0) == 0) set(CURLOPT_PIPEWAIT, 1L);
  set(CURLOPT_TCP_KEEPALIVE, 1L);
  set(CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(call_.connect_timeout_ms));
  set(CURLOPT_TIMEOUT_MS, static_cast<long>(call_.deadline_ms));
  set(CURLOPT_LOW_SPEED_LIMIT, 1L);
  set(CURLOPT_LOW_SPEED_TIME, static_cast<long>((call_.idle_timeout_ms + 999) / 1000));
  set(CURLOPT_WRITEFUNCTION, &CurlTransfer::on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(this));
  set(CURLOPT_HEADERFUNCTION, &CurlTransfer::on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(this));
  set(CURLOPT_PREREQFUNCTION, &CurlTransfer::on_connected);
  set(CURLOPT_PREREQDATA, static_cast<void*>(this));
  if (call_.method == "GET") {
    set(CURLOPT_HTTPGET, 1L);
  } else if (call_.method == "HEAD") {
    set(CURLOPT_NOBODY, 1L);
  } else {
    if (call_.method != "POST") set(CURLOPT_CUSTOMREQUEST, call_.method.c_str());
    set(CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(call_.body.size()));
    set(CURLOPT_POSTFIELDS, call_.body.c_str());
  }
  for (const std::string& header : call_.headers) {
    curl_slist* grown = curl_.slist_append(headers_, header.c_str());
    if (grown == nullptr) return Status::internal("curl_slist_append failed");
    headers_ = grown;
  }
  // No `Expect: 100-continue` wait before a large body: servers answer without it.
  if (curl_slist* grown = curl_.slist_append(headers_, "Expect:")) headers_ = grown;
  set(CURLOPT_HTTPHEADER, headers_);
  if (code != CURLE_OK) {
    return Status::invalid_argument("libcurl {} refused an option of the request to {}: {}",
                                    curl_.version, call_.url, curl_.easy_strerror(code));
  }
  return Status();
}

size_t CurlTransfer::on_body(char* data, size_t size, size_t count, void* self) {
  auto* transfer = static_cast<CurlTransfer*>(self);
  const size_t bytes = size * count;
  std::string& body = transfer->result_.body;
  const size_t room =
      transfer->call_.max_body_bytes - std::min(body.size(), transfer->call_.max_body_bytes);
  if (bytes > room) {
    body.append(data, room);
    transfer->result_.truncated = true;
    return 0;  // stops the transfer: the rest is not read
  }
  body.append(data, bytes);
  return bytes;
}

size_t CurlTransfer::on_header(char* data, size_t size, size_t count, void* self) {
  auto* transfer = static_cast<CurlTransfer*>(self);
  const std::string_view line(data, size * count);
  if (line.rfind("HTTP/", 0) == 0) {
    transfer->result_.headers.clear();  // a new response (after a 100 Continue, say)
    return line.size();
  }
  const size_t colon = line.find(':');
  if (colon == std::string_view::npos) return line.size();
  transfer->result_.headers.emplace_back(lowercase(trim(line.substr(0, colon))),
                                         std::string(trim(line.substr(colon + 1))));
  return line.size();
}

int CurlTransfer::on_connected(void* self, char* primary_ip, char*, int, int) {
  auto* transfer = static_cast<CurlTransfer*>(self);
  if (transfer->call_.allow_address && !transfer->call_.allow_address(primary_ip)) {
    transfer->refused_ = true;
    transfer->result_.primary_ip = primary_ip;
    return CURL_PREREQFUNC_ABORT;
  }
  transfer->result_.request_sent = true;
  return CURL_PREREQFUNC_OK;
}

HttpResult CurlTransfer::finish(CURLcode code) {
  HttpResult result = std::move(result_);
  long status = 0;
  curl_.easy_getinfo(easy_, CURLINFO_RESPONSE_CODE, &status);
  result.status = static_cast<int>(status);
  curl_off_t total_us = 0;
  curl_.easy_getinfo(easy_, CURLINFO_TOTAL_TIME_T, &total_us);
  result.elapsed_ms = static_cast<int64_t>(total_us / 1000);
  if (char* ip = nullptr; curl_.easy_getinfo(easy_, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip) {
    if (result.primary_ip.empty()) result.primary_ip = ip;
  }
  if (char* location = nullptr;
      curl_.easy_getinfo(easy_, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location) {
    result.redirect_url = location;
  }
  if (refused_) {
    result.transport = HttpResult::Transport::kRefused;
    result.error = "the address " + result.primary_ip + " is not allowed";
    return result;
  }
  if (code == CURLE_WRITE_ERROR && result.truncated) code = CURLE_OK;  // our own stop
  result.transport = transport_of(code);
  if (result.transport == HttpResult::Transport::kTimeout &&
      result.elapsed_ms + 5 >= call_.deadline_ms) {
    result.transport = HttpResult::Transport::kDeadline;
  }
  if (code != CURLE_OK) result.error = error_[0] != '\0' ? error_ : curl_.easy_strerror(code);
  return result;
}

HttpResult CurlTransfer::failed(std::string message) {
  HttpResult result;
  result.transport = HttpResult::Transport::kFailed;
  result.error = std::move(message);
  return result;
}

}  // namespace artana::io
