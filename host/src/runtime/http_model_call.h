// HttpModelCall: one live model step answered by an OpenAI-compatible endpoint — the
// requests it takes and what the step records. A state machine the host's thread drives:
// first() gives the first request; each result gives the next request (a retry after its
// wait, the other API, a repair turn) or the step's ModelOutcome. It makes no request
// itself and calls neither Lua nor the kernel: the host sends (IoThread) and finishes.
//
// Within the step, invisible to replay:
// - retries of transient failures (retry_policy.h), within the step's deadline;
// - api_mode auto: Responses first; a 404/405/501 from `/responses` switches to Chat
//   Completions at once (learned_chat_only(): the host remembers it per base URL);
// - repair turns: an answer its schema refuses is quoted back to the model
//   (`repair_attempts` times) before the step fails as invalid_output.
// Usage is summed over every attempt that reported it, and priced when the endpoint has
// prices. The API key is only ever put in the Authorization header; any text the step
// records has it masked.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "artana/host/model_endpoints.h"
#include "artana/kernel/kernel_types.h"
#include "http_transfer.h"
#include "model_answer.h"
#include "strict_schema.h"

namespace artana::host {

class HttpModelCall {
 public:
  struct Setup {
    ModelEndpoint endpoint;
    std::string endpoint_name;           // its key in HostOptions::models ("*", "gpt-4o*")
    bool stream = false;                 // the step asked (or the endpoint streams)
    std::optional<std::string> api_key;  // read from the environment for this step
    bool chat_only = false;              // auto mode: this base URL has no Responses API
  };
  // Checks an output against the step's schema (Kernel::check_model_output).
  using OutputCheck = std::function<Status(const kernel::Json&)>;

  HttpModelCall(kernel::ModelCall call, Setup setup);

  struct Next {
    std::optional<io::HttpCall> send;          // the next request, or
    std::optional<kernel::ModelOutcome> done;  // the step's outcome
  };
  Next first();
  // `random01` jitters a retry's wait; `now_unix_s` reads an HTTP-date Retry-After.
  Next on_result(io::HttpResult result, const OutputCheck& check, double random01,
                 int64_t now_unix_s);
  // The server said it has no Responses API (auto mode): remember it for its base URL.
  bool learned_chat_only() const { return learned_chat_only_; }
  const std::string& base_url() const { return setup_.endpoint.base_url; }

 private:
  bool use_chat() const;
  Next request(int64_t wait_ms);
  Next answered(io::ModelAnswer answer, const OutputCheck& check);
  Next failed(kernel::FailureCategory category, std::string message);
  Next retry_or_fail(kernel::FailureCategory category, std::string message, int64_t delay_ms,
                     bool retry);
  Next repair(const std::string& text, const std::string& problem);
  void add_usage(const kernel::Json& usage);
  kernel::ModelOutcome outcome_base();
  std::string masked(std::string text) const;
  int64_t elapsed_ms() const;

  kernel::ModelCall call_;
  Setup setup_;
  std::optional<io::StrictSchema> sent_schema_;
  std::chrono::steady_clock::time_point started_;
  int attempts_ = 0;  // requests made
  int failures_ = 0;  // failed attempts (the retry count)
  int repairs_ = 0;   // repair turns asked
  bool learned_chat_only_ = false;
  kernel::Json usage_ = kernel::Json::object();  // summed over the attempts
  std::string response_id_, request_id_;
  int http_status_ = 0;
};

// The cost in micro-USD of `usage` at `prices` (USD per million tokens); nullopt when the
// usage names no tokens.
std::optional<int64_t> usage_cost_micro_usd(const kernel::Json& usage, const ModelPrices& prices);

}  // namespace artana::host
