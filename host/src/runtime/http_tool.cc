#include "http_tool.h"

#include <cstdlib>

#include "artana/kernel/canonical_json.h"
#include "base64.h"

namespace artana::host {

using kernel::Json;
using kernel::ToolOutcome;
using kernel::ToolOutcomeKind;

namespace {

constexpr int kMaxRedirects = 5;

// Headers the transfer itself sets: a script setting them would break the framing.
bool reserved_header(std::string_view lowercase_name) {
  for (std::string_view name : {"host", "content-length", "transfer-encoding", "connection",
                                "expect", "upgrade", "te", "trailer"}) {
    if (lowercase_name == name) return true;
  }
  return false;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

Json method_schema(bool reads) {
  Json methods = reads ? Json::array({Json("GET"), Json("HEAD")})
                       : Json::array({Json("POST"), Json("PUT"), Json("PATCH"), Json("DELETE"),
                                      Json("OPTIONS")});
  return Json::object({{"type", "string"}, {"enum", std::move(methods)}});
}

Json http_arguments_schema(bool reads) {
  Json secret_ref = Json::object(
      {{"type", "object"},
       {"required", Json::array({Json("secret")})},
       {"additionalProperties", false},
       {"properties", Json::object({{"secret", Json::object({{"type", "string"}})}})}});
  Json header_value = Json::object(
      {{"anyOf", Json::array({Json::object({{"type", "string"}}), std::move(secret_ref)})}});
  return Json::object(
      {{"type", "object"},
       {"required", Json::array({Json("url")})},
       {"additionalProperties", false},
       {"properties",
        Json::object(
            {{"method", method_schema(reads)},
             {"url", Json::object({{"type", "string"}, {"minLength", 1}})},
             {"headers", Json::object({{"type", "object"},
                                       {"additionalProperties", std::move(header_value)}})},
             {"body", Json::object({{"type", "string"}})},
             {"timeout_s",
              Json::object({{"type", "number"}, {"exclusiveMinimum", 0}, {"maximum", 600}})}})}});
}

}  // namespace

std::vector<kernel::ToolSpec> http_tool_specs() {
  std::vector<kernel::ToolSpec> specs;
  for (bool reads : {true, false}) {
    kernel::ToolSpec spec;
    spec.name = std::string(reads ? kHttpReadTool : kHttpSendTool);
    spec.description = reads ? "run:http with GET or HEAD" : "run:http with another method";
    spec.capability = std::string(kHttpCapability);
    spec.capability_required = true;
    spec.side_effect = !reads;
    spec.arguments = http_arguments_schema(reads);
    specs.push_back(std::move(spec));
  }
  return specs;
}

Result<HttpToolRequest> parse_http_tool_args(const Json& args) {
  auto bad = [](std::string_view message) {
    return Status::invalid_argument("run:http: {}", message).with_kind(ErrorKind::kInvalidArgument);
  };
  if (!args.is_object()) return bad("expects a table");
  HttpToolRequest request;
  for (const auto& [field, value] : args.as_object()) {
    if (field == "method" && value.is_string()) {
      request.method = value.as_string();
    } else if (field == "url" && value.is_string()) {
      request.url = value.as_string();
    } else if (field == "body" && value.is_string()) {
      request.body = value.as_string();
    } else if (field == "timeout_s" && value.is_number()) {
      request.timeout_s = value.as_number();
    } else if (field == "headers" && value.is_object()) {
      for (const auto& [name, header] : value.as_object()) {
        if (name.empty() || !std::all_of(name.begin(), name.end(), token_char)) {
          return bad("headers: '" + name + "' is not a header name");
        }
        if (reserved_header(lowercase(name))) {
          return bad("headers." + name + ": set by the transfer itself, not by a script");
        }
        HttpToolRequest::Header h{name, {}, false};
        if (header.is_string()) {
          h.value = header.as_string();
          if (h.value.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
            return bad("headers." + name + ": a value cannot hold CR, LF or NUL");
          }
        } else if (const Json* secret = header.find("secret"); secret && secret->is_string()) {
          h.value = secret->as_string();
          h.secret = true;
        } else {
          return bad("headers." + name + " must be a string or {secret = \"ENV_NAME\"}");
        }
        request.headers.push_back(std::move(h));
      }
    } else {
      return bad("bad field '" + field + "'");
    }
  }
  if (request.url.empty()) return bad("`url` is required");
  if (!(request.timeout_s > 0 && request.timeout_s <= 600)) {
    return bad("`timeout_s` must be a number of seconds in (0, 600]");
  }
  return request;
}

Status check_http_policy(const HttpToolRequest& request, const io::HttpAllowList& allow,
                         const std::set<std::string>& secret_env) {
  auto url = io::parse_url_host(request.url);
  if (!url.ok()) {
    return Status::invalid_argument("run:http: url: {}", url.status().message())
        .with_kind(ErrorKind::kInvalidArgument);
  }
  if (!allow.allows(*url)) {
    return Status::permission_denied(
               "run:http: host '{}' (port {}) is not allowed: the operator allows hosts with "
               "--http-allow host[:port]",
               url->host, url->port)
        .with_kind(ErrorKind::kPolicyViolation);
  }
  for (const HttpToolRequest::Header& header : request.headers) {
    if (header.secret && !secret_env.count(header.value)) {
      return Status::permission_denied(
                 "run:http: headers.{} reads the variable {}, which the operator did not allow "
                 "(--secret-env {})",
                 header.name, header.value, header.value)
          .with_kind(ErrorKind::kCapabilityDenied);
    }
  }
  return Status();
}

Result<io::HttpCall> HttpToolCall::next_request() {
  io::HttpCall call;
  call.method = request_.method;
  call.url = url_;
  call.body = request_.body;
  const int64_t timeout_ms = static_cast<int64_t>(request_.timeout_s * 1000);
  call.deadline_ms = timeout_ms;
  call.idle_timeout_ms = timeout_ms;
  call.connect_timeout_ms = std::min<int64_t>(timeout_ms, 10'000);
  call.max_body_bytes = kHttpBodyLimit;
  call.max_host_connections = 64;
  auto url = io::parse_url_host(url_);
  if (!url.ok()) return url.status();
  const bool same_host =
      redirects_ == 0 || io::parse_url_host(request_.url).value().host == url->host;
  for (const HttpToolRequest::Header& header : request_.headers) {
    if (!header.secret) {
      call.headers.push_back(header.name + ": " + header.value);
      continue;
    }
    if (!same_host) continue;  // a secret never follows a redirect to another host
    const char* value = std::getenv(header.value.c_str());
    if (value == nullptr) {
      return Status::failed_precondition("run:http: headers.{}: the variable {} is not set",
                                         header.name, header.value);
    }
    if (*value != '\0') secret_values_.emplace_back(value);
    call.headers.push_back(header.name + ": " + value);
  }
  const io::HttpAllowList* allow = allow_;
  const io::UrlHost target = *url;
  call.allow_address = [allow, target](std::string_view ip) {
    return allow->allows_address(target, ip);
  };
  return call;
}

std::optional<ToolOutcome> HttpToolCall::on_result(const io::HttpResult& result) {
  using T = io::HttpResult::Transport;
  sent_ = sent_ || result.request_sent;
  if (result.transport == T::kRefused) {
    return refused("run:http " + url_ + ": " + result.error +
                   " (a name that leads to an internal address must be allowed by address)");
  }
  if (result.transport != T::kOk) {
    const std::string message = fmt::format("run:http {} {}: {} ({})", request_.method, url_,
                                            result.error, io::transport_name(result.transport));
    // A read, or a request that never left: nothing happened, try again later. A side effect
    // that was sent may have happened: the kernel records the outcome as unknown.
    if (!side_effect_ || !sent_) return failed(message, true, true);
    return failed(message, false, false);
  }
  const int status = result.status;
  const bool redirect =
      status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  if (redirect && !result.redirect_url.empty() && redirects_ < kMaxRedirects) {
    auto next = io::parse_url_host(result.redirect_url);
    if (!next.ok() || !allow_->allows(*next)) {
      return refused("run:http " + url_ + " redirects to " + result.redirect_url +
                     ", whose host is not allowed (--http-allow)");
    }
    ++redirects_;
    url_ = result.redirect_url;
    if (status == 303 || ((status == 301 || status == 302) && request_.method == "POST")) {
      request_.method = "GET";  // as browsers and libcurl do
      request_.body.clear();
    }
    return std::nullopt;
  }
  ToolOutcome outcome;
  outcome.result = result_json(result);
  return outcome;
}

Json HttpToolCall::result_json(const io::HttpResult& result) const {
  Json headers = Json::object();
  for (const auto& [name, value] : result.headers) {
    const std::string shown = masked(value);
    if (Json* seen = headers.find(name)) {
      *seen = Json(seen->as_string() + ", " + shown);
    } else {
      headers.set(name, shown);
    }
  }
  Json out = Json::object({{"status", static_cast<int64_t>(result.status)},
                           {"headers", std::move(headers)},
                           {"truncated", result.truncated}});
  if (kernel::is_valid_utf8(result.body)) {
    out.set("body", masked(result.body));
  } else {
    out.set("body_base64", io::base64(result.body));
  }
  if (redirects_ > 0) out.set("url", url_);
  return out;
}

ToolOutcome HttpToolCall::failed(std::string message, bool transient, bool declared) const {
  ToolOutcome outcome;
  outcome.kind = transient ? ToolOutcomeKind::kTransientError : ToolOutcomeKind::kPermanentError;
  outcome.declared = declared;
  outcome.error = masked(std::move(message));
  return outcome;
}

ToolOutcome HttpToolCall::refused(std::string message) const {
  ToolOutcome outcome = failed(std::move(message), false, true);
  outcome.error_kind = ErrorKind::kPolicyViolation;
  return outcome;
}

std::string HttpToolCall::masked(std::string text) const {
  for (const std::string& secret : secret_values_) {
    for (size_t at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
      text.replace(at, secret.size(), "[secret]");
    }
  }
  return text;
}

}  // namespace artana::host
