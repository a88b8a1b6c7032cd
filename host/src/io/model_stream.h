// ModelStreamReader: a streamed model answer (`stream: true`, Server-Sent Events) read as it
// arrives, in chunks cut anywhere, into the same ModelAnswer a whole body gives.
//
// Chat Completions streams `chat.completion.chunk`s: text deltas, tool-call fragments,
// a last chunk with usage, then `data: [DONE]`. Fragments are joined the way servers
// actually send them, not only as OpenAI documents: by `index`; a fragment with an `id`
// other than its index's call starts a new call (servers that number every call 0); one
// with neither index nor id continues the last call.
//
// Responses streams typed events; the answer is the `response` of `response.completed`
// (or `response.incomplete`), read as a whole response is. Deltas are not needed.
//
// Either format may report an error inside a 200 stream (`event: error`, a `{"error": …}`
// chunk, `response.failed`). Nothing partial is ever an answer: a stream that ends without
// its end marker is cut short.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/json.h"
#include "artana/kernel/status.h"
#include "model_answer.h"
#include "sse_parser.h"

namespace artana::io {

enum class WireFormat { kChat, kResponses };

class ModelStreamReader {
 public:
  explicit ModelStreamReader(WireFormat format) : format_(format) {}

  // Parses `chunk`. An error ends the stream (and every later feed returns it):
  // kInvalidArgument for a body that is not a stream of this format (an event too big, a
  // data line that is not JSON); an error event as in finish().
  Status feed(std::string_view chunk);

  // The answer once the body has ended. Errors, by what the caller should do:
  // - kInvalidArgument: the stream is malformed or was cut short (a transport fault: retry);
  // - kUnavailable: the server reported an error worth retrying (server error, rate limit);
  // - kFailedPrecondition: the server reported any other error (permanent).
  Result<ModelAnswer> finish();

 private:
  Status take(const SseEvent& event);
  Status take_chat(const kernel::Json& chunk);
  Status take_responses(std::string_view type, const kernel::Json& event);
  Status reported_error(const kernel::Json& error);
  Result<ModelAnswer> chat_answer();

  // A tool call being streamed in fragments (Chat Completions).
  struct CallParts {
    std::optional<int64_t> index;
    std::string id, name, arguments;
  };

  WireFormat format_;
  SseParser parser_;
  std::vector<SseEvent> events_;
  Status failed_;      // the first error: the stream is over
  bool done_ = false;  // the end marker ([DONE], response.completed) arrived
  // Chat Completions: the answer gathered so far.
  ModelAnswer answer_;
  std::vector<CallParts> calls_;
  // Responses: the answer of response.completed.
  std::optional<ModelAnswer> completed_;
};

}  // namespace artana::io
