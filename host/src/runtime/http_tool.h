// run:http as a tool step: its arguments, what the operator allows (hosts, secrets), the
// requests it makes (redirects followed one by one, each judged again) and the result it
// records. Values only: no Lua, no kernel, no libcurl (ScriptRun sends and finishes).
#pragma once

#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/kernel_types.h"
#include "artana/kernel/tool_registry.h"
#include "http_allow.h"
#include "http_transfer.h"

namespace artana::host {

// The built-ins' reserved tool names. GET and HEAD are reads; other methods side effects.
inline constexpr std::string_view kHttpReadTool = "artana.http_read";
inline constexpr std::string_view kHttpSendTool = "artana.http";
inline constexpr std::string_view kHttpCapability = "net:http";
inline constexpr size_t kHttpBodyLimit = size_t{1} << 20;  // kept of a response body

// The two run:http tools (argument schemas, capability, side effect).
std::vector<kernel::ToolSpec> http_tool_specs();

struct HttpToolRequest {
  std::string method = "GET", url, body;
  // Header name and either its value or, with `secret`, the variable to read it from.
  struct Header {
    std::string name, value;
    bool secret = false;
  };
  std::vector<Header> headers;
  double timeout_s = 30;
};

// The arguments as recorded (their schema already checked by the kernel); kInvalidArgument
// naming the field otherwise.
Result<HttpToolRequest> parse_http_tool_args(const kernel::Json& args);

// What the operator allows, judged before the step is begun (nothing is recorded when it
// refuses): the URL's host (policy_violation naming it) and each secret's variable
// (capability_denied naming it).
Status check_http_policy(const HttpToolRequest& request, const io::HttpAllowList& allow,
                         const std::set<std::string>& secret_env);

// One step's requests: the first, then each redirect.
class HttpToolCall {
 public:
  HttpToolCall(HttpToolRequest request, bool side_effect, const io::HttpAllowList* allow)
      : request_(std::move(request)),
        side_effect_(side_effect),
        allow_(allow),
        url_(request_.url) {}

  // The next request, with the secrets read from the environment now; kFailedPrecondition
  // naming a variable that is unset.
  Result<io::HttpCall> next_request();
  // A redirect to follow (its URL becomes the next request's), or the step's outcome.
  std::optional<kernel::ToolOutcome> on_result(const io::HttpResult& result);

 private:
  kernel::ToolOutcome failed(std::string message, bool transient, bool declared) const;
  // What the operator's allowlist refused mid-call (a redirect, the address connected to):
  // the script's error is policy_violation, live and replayed.
  kernel::ToolOutcome refused(std::string message) const;
  kernel::Json result_json(const io::HttpResult& result) const;
  std::string masked(std::string text) const;

  HttpToolRequest request_;
  bool side_effect_;
  const io::HttpAllowList* allow_;
  std::string url_;    // of the next request
  int redirects_ = 0;  // followed so far
  bool sent_ = false;  // some request reached a server (its effect may have happened)
  std::vector<std::string> secret_values_;  // masked in what is recorded
};

}  // namespace artana::host
