#include "http_model_call.h"

#include <cmath>

#include "artana/kernel/json_parse.h"
#include "chat_completions.h"
#include "model_stream.h"
#include "responses_api.h"
#include "retry_policy.h"

namespace artana::host {

using kernel::FailureCategory;
using kernel::Json;

namespace {

// Whether a server's answer to a Responses request says it has no Responses API: 404, 405
// or 501, or a 400 whose error says so in as many words (an unknown or unsupported endpoint,
// naming /responses) — never an ordinary 400 about the request.
bool says_unsupported(const io::HttpResult& result) {
  const int status = result.status;
  if (status == 404 || status == 405 || status == 501) return true;
  if (status != 400) return false;
  Result<Json> body = kernel::parse_json(result.body, "body");
  if (!body.ok()) return false;
  std::string said = io::provider_error_message(*body);
  for (char& c : said) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool endpoint = said.find("responses") != std::string::npos ||
                        said.find("endpoint") != std::string::npos ||
                        said.find("route") != std::string::npos;
  const bool unsupported = said.find("unsupported") != std::string::npos ||
                           said.find("not supported") != std::string::npos ||
                           said.find("unknown") != std::string::npos ||
                           said.find("not found") != std::string::npos;
  return endpoint && unsupported;
}

bool is_success(int status) { return status >= 200 && status < 300; }

io::AttemptEnd attempt_end(const io::HttpResult& result) {
  using T = io::HttpResult::Transport;
  io::AttemptEnd end;
  switch (result.transport) {
    case T::kOk:
      end.kind = io::AttemptEnd::Kind::kResponse;
      break;
    case T::kTimeout:
      end.kind = io::AttemptEnd::Kind::kIdleTimeout;
      break;
    case T::kDeadline:
      end.kind = io::AttemptEnd::Kind::kDeadline;
      break;
    case T::kBrokenResponse:
      end.kind = io::AttemptEnd::Kind::kBadBody;
      break;
    default:
      end.kind = io::AttemptEnd::Kind::kConnectionError;
      break;
  }
  end.http_status = result.status;
  if (const std::string* v = result.header("x-should-retry")) end.should_retry = *v;
  if (const std::string* v = result.header("retry-after-ms")) end.retry_after_ms = *v;
  if (const std::string* v = result.header("retry-after")) end.retry_after = *v;
  return end;
}

// What an error response's body says ("message (type, code)"), or its first bytes.
std::string error_body_text(const std::string& body) {
  if (Result<Json> parsed = kernel::parse_json(body, "body"); parsed.ok()) {
    std::string said = io::provider_error_message(*parsed);
    if (!said.empty()) return said;
  }
  std::string text = body.substr(0, 200);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return text.empty() ? "no body" : text;
}

// A 2xx body as the API's answer: whole, or a stream read to its end.
Result<io::ModelAnswer> read_answer(const std::string& body, bool chat, bool stream) {
  if (!stream) return chat ? io::parse_chat_response(body) : io::parse_responses_response(body);
  io::ModelStreamReader reader(chat ? io::WireFormat::kChat : io::WireFormat::kResponses);
  if (Status fed = reader.feed(body); !fed.ok()) return fed;
  return reader.finish();
}

}  // namespace

std::optional<int64_t> usage_cost_micro_usd(const Json& usage, const ModelPrices& prices) {
  auto count = [&](std::string_view name) -> std::optional<int64_t> {
    const Json* value = usage.is_object() ? usage.find(name) : nullptr;
    if (value == nullptr || !value->is_integer()) return std::nullopt;
    return value->as_integer();
  };
  const std::optional<int64_t> prompt = count("prompt_tokens");
  const std::optional<int64_t> completion = count("completion_tokens");
  if (!prompt && !completion) return std::nullopt;
  const int64_t cached = std::min(count("cached_tokens").value_or(0), prompt.value_or(0));
  // USD per million tokens is micro-USD per token.
  const double micro = static_cast<double>(prompt.value_or(0) - cached) * prices.input +
                       static_cast<double>(cached) * prices.cached_input +
                       static_cast<double>(completion.value_or(0)) * prices.output;
  return std::llround(micro);
}

HttpModelCall::HttpModelCall(kernel::ModelCall call, Setup setup)
    : call_(std::move(call)), setup_(std::move(setup)) {
  if (call_.output_schema) sent_schema_ = io::strict_schema(*call_.output_schema);
}

bool HttpModelCall::use_chat() const {
  return setup_.endpoint.api_mode == ApiMode::kChat ||
         (setup_.endpoint.api_mode == ApiMode::kAuto && (setup_.chat_only || learned_chat_only_));
}

HttpModelCall::Next HttpModelCall::first() {
  started_ = std::chrono::steady_clock::now();
  return request(0);
}

int64_t HttpModelCall::elapsed_ms() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               started_)
      .count();
}

HttpModelCall::Next HttpModelCall::request(int64_t wait_ms) {
  const ModelEndpoint& endpoint = setup_.endpoint;
  const int64_t deadline_ms = static_cast<int64_t>(endpoint.step_deadline_s * 1000);
  const int64_t left_ms = deadline_ms - elapsed_ms() - wait_ms;
  if (left_ms <= 0) {
    return failed(FailureCategory::kTimeout,
                  fmt::format("the step's deadline ({} s) passed after {} attempt(s)",
                              endpoint.step_deadline_s, attempts_));
  }
  const bool chat = use_chat();
  Result<std::string> body = chat ? io::chat_request_body(call_, setup_.stream)
                                  : io::responses_request_body(call_, setup_.stream);
  if (!body.ok()) return failed(FailureCategory::kPermanent, body.status().message());
  io::HttpCall http;
  http.url = chat ? endpoint.chat_url() : endpoint.responses_url();
  http.body = std::move(*body);
  http.headers = {"Content-Type: application/json",
                  setup_.stream ? "Accept: text/event-stream" : "Accept: application/json"};
  if (setup_.api_key) http.headers.push_back("Authorization: Bearer " + *setup_.api_key);
  http.connect_timeout_ms = static_cast<int64_t>(endpoint.connect_timeout_s * 1000);
  http.idle_timeout_ms = static_cast<int64_t>(endpoint.idle_timeout_s * 1000);
  http.deadline_ms = left_ms;
  http.start_after_ms = wait_ms;
  http.max_host_connections = endpoint.max_connections;
  ++attempts_;
  return Next{std::move(http), std::nullopt};
}

HttpModelCall::Next HttpModelCall::on_result(io::HttpResult result, const OutputCheck& check,
                                             double random01, int64_t now_unix_s) {
  http_status_ = result.status;
  if (const std::string* id = result.header("x-request-id")) request_id_ = *id;
  using T = io::HttpResult::Transport;
  const bool chat = use_chat();
  if (result.transport == T::kOk && !chat && setup_.endpoint.api_mode == ApiMode::kAuto &&
      says_unsupported(result)) {
    learned_chat_only_ = true;  // not a failure: the same request, in the other form
    return request(0);
  }
  if (result.transport == T::kOk && is_success(result.status)) {
    if (result.truncated) {
      return failed(FailureCategory::kPermanent, "the answer is larger than the host reads");
    }
    Result<io::ModelAnswer> answer = read_answer(result.body, chat, setup_.stream);
    if (answer.ok()) return answered(std::move(*answer), check);
    const Status& why = answer.status();
    if (why.code() == StatusCode::kFailedPrecondition) {
      return failed(FailureCategory::kPermanent, why.message());
    }
    // A body cut short or not what the API sends, or an error the server streamed as
    // worth retrying: a transient failure of this attempt.
    io::AttemptEnd end = attempt_end(result);
    end.kind = io::AttemptEnd::Kind::kBadBody;
    const io::RetryDecision decision = io::decide_retry(
        end, failures_ + 1, {setup_.endpoint.max_retries}, [&] { return random01; }, now_unix_s);
    return retry_or_fail(FailureCategory::kTransient, why.message(), decision.delay_ms,
                         decision.retry);
  }
  const io::RetryDecision decision = io::decide_retry(
      attempt_end(result), failures_ + 1, {setup_.endpoint.max_retries}, [&] { return random01; },
      now_unix_s);
  std::string message;
  if (result.transport == T::kOk) {
    message = fmt::format("HTTP {} from {}: {}", result.status,
                          chat ? setup_.endpoint.chat_url() : setup_.endpoint.responses_url(),
                          error_body_text(result.body));
  } else {
    message = fmt::format("{} ({})", result.error, io::transport_name(result.transport));
  }
  const bool permanent_transport =
      result.transport == T::kRefused || result.transport == T::kFailed;
  return retry_or_fail(decision.category, std::move(message), decision.delay_ms,
                       decision.retry && !permanent_transport);
}

HttpModelCall::Next HttpModelCall::retry_or_fail(FailureCategory category, std::string message,
                                                 int64_t delay_ms, bool retry) {
  ++failures_;
  if (retry) return request(delay_ms);
  if (failures_ > 1) message += fmt::format(" (after {} attempts)", attempts_);
  return failed(category, std::move(message));
}

HttpModelCall::Next HttpModelCall::answered(io::ModelAnswer answer, const OutputCheck& check) {
  add_usage(answer.usage);
  if (!answer.response_id.empty()) response_id_ = answer.response_id;
  if (answer.refusal)
    return failed(FailureCategory::kRefused, "the model refused: " + *answer.refusal);
  kernel::ModelOutcome outcome = outcome_base();
  outcome.tool_calls = std::move(answer.tool_calls);
  if (!call_.output_schema) {
    outcome.output = Json::object({{"text", std::move(answer.text)}});
    return Next{std::nullopt, std::move(outcome)};
  }
  Result<Json> parsed = kernel::parse_json(answer.text, "the answer");
  std::string problem;
  if (parsed.ok()) {
    outcome.output =
        io::answer_for_original(std::move(*parsed), *call_.output_schema, *sent_schema_);
    if (Status valid = check(outcome.output); !valid.ok()) problem = valid.message();
  } else {
    problem = "the answer is not JSON: " + parsed.status().message();
    outcome.output = Json(answer.text);  // the kernel records it as invalid_output
  }
  if (!problem.empty() && repairs_ < setup_.endpoint.repair_attempts) {
    return repair(answer.text, problem);
  }
  return Next{std::nullopt, std::move(outcome)};
}

HttpModelCall::Next HttpModelCall::repair(const std::string& text, const std::string& problem) {
  ++repairs_;
  Json messages = call_.messages ? std::move(*call_.messages) : Json::array();
  if (call_.prompt) {
    messages.push_back(Json::object({{"role", "user"}, {"content", std::move(*call_.prompt)}}));
    call_.prompt.reset();
  }
  messages.push_back(Json::object({{"role", "assistant"}, {"content", text}}));
  messages.push_back(Json::object(
      {{"role", "user"},
       {"content", "Your answer does not match the JSON schema it must follow: " + problem +
                       ". Answer again, with only JSON that matches the schema."}}));
  call_.messages = std::move(messages);
  return request(0);
}

void HttpModelCall::add_usage(const Json& usage) {
  if (!usage.is_object()) return;
  for (const auto& [name, value] : usage.as_object()) {
    if (!value.is_integer()) continue;
    Json* total = usage_.find(name);
    if (total != nullptr && total->is_integer()) {
      *total = Json(total->as_integer() + value.as_integer());
    } else {
      usage_.set(name, value.as_integer());
    }
  }
}

kernel::ModelOutcome HttpModelCall::outcome_base() {
  kernel::ModelOutcome outcome;
  outcome.usage = usage_;
  if (setup_.endpoint.prices) {
    outcome.cost_micro_usd = usage_cost_micro_usd(usage_, *setup_.endpoint.prices);
  }
  Json call = Json::object({{"api_mode", std::string(use_chat() ? "chat" : "responses")},
                            {"endpoint", setup_.endpoint_name},
                            {"http_status", static_cast<int64_t>(http_status_)},
                            {"attempts", static_cast<int64_t>(attempts_)},
                            {"elapsed_ms", elapsed_ms()}});
  if (!response_id_.empty()) call.set("response_id", response_id_);
  if (!request_id_.empty()) call.set("request_id", request_id_);
  outcome.call = std::move(call);
  return outcome;
}

HttpModelCall::Next HttpModelCall::failed(FailureCategory category, std::string message) {
  kernel::ModelOutcome outcome = outcome_base();
  outcome.ok = false;
  outcome.category = category;
  outcome.transient =
      category == FailureCategory::kTimeout || category == FailureCategory::kTransient;
  outcome.error = masked("model '" + call_.model + "' at endpoint '" + setup_.endpoint_name +
                         "': " + std::move(message));
  return Next{std::nullopt, std::move(outcome)};
}

std::string HttpModelCall::masked(std::string text) const {
  if (!setup_.api_key || setup_.api_key->empty()) return text;
  const std::string& key = *setup_.api_key;
  for (size_t at = text.find(key); at != std::string::npos; at = text.find(key, at)) {
    text.replace(at, key.size(), "[api key]");
  }
  return text;
}

}  // namespace artana::host
