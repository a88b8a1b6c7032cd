// SseParser: an incremental parser of a text/event-stream body (Server-Sent Events), as the
// OpenAI Chat Completions and Responses APIs stream.
//
// Follows the WHATWG HTML "event stream interpretation": lines end in CRLF, LF or CR; a
// blank line dispatches the event gathered since the last one; a line beginning with ':' is
// a comment; `field: value` (one space after the colon dropped), a line without a colon is a
// field with an empty value; `data` lines are joined with '\n'; `event` names the event
// (default "message"); `id` (without NUL) and `retry` (digits only) are kept; other fields
// are ignored. A UTF-8 byte order mark at the very start is dropped. An event with no data
// is not dispatched. What is pending when the body ends is not an event (has_partial()).
//
// Bytes arrive in chunks cut anywhere (mid-line, mid-CRLF, mid-UTF-8 sequence): the parser
// only splits at line ends, which are ASCII, so a character is never cut. It holds at most
// `max_event_bytes` of one event (its lines and data); past that, feed() fails and the
// parser stays failed: a server streaming without blank lines cannot grow memory forever.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/status.h"

namespace artana::io {

struct SseEvent {
  std::string type = "message";  // the `event` field
  std::string data;              // the `data` lines joined with '\n'
  std::string id;                // the last `id` seen so far in the stream (may be empty)
};

class SseParser {
 public:
  static constexpr size_t kDefaultMaxEventBytes = size_t{16} << 20;
  explicit SseParser(size_t max_event_bytes = kDefaultMaxEventBytes)
      : max_event_bytes_(max_event_bytes) {}

  // Parses `chunk`, appending each event it completes to `out`. kInvalidArgument when one
  // event exceeds the limit (then and after: nothing more is parsed).
  Status feed(std::string_view chunk, std::vector<SseEvent>& out);

  // Something was received since the last event: a line or fields not yet ended by a blank
  // line. At the end of the body that is a stream cut short (or a server's last event
  // without its blank line, which the standard discards).
  bool has_partial() const { return !line_.empty() || has_fields_; }
  // The last `retry` field's value in milliseconds, if any.
  std::optional<int64_t> retry_ms() const { return retry_ms_; }

 private:
  Status take_line(std::vector<SseEvent>& out);  // line_ is a whole line
  void dispatch(std::vector<SseEvent>& out);

  size_t max_event_bytes_;
  std::string line_;         // the line being received
  bool after_cr_ = false;    // the last byte was a CR: an LF right after it ends nothing
  bool at_start_ = true;     // nothing received yet (a BOM is dropped here)
  bool has_fields_ = false;  // a field line since the last dispatch
  bool failed_ = false;
  size_t event_bytes_ = 0;  // the current event's lines so far
  std::string type_, data_, last_id_;
  bool has_data_ = false;
  std::optional<int64_t> retry_ms_;
};

}  // namespace artana::io
