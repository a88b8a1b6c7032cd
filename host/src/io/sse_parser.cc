#include "sse_parser.h"

namespace artana::io {

Status SseParser::feed(std::string_view chunk, std::vector<SseEvent>& out) {
  if (failed_) {
    return Status::invalid_argument("the event stream failed earlier: an event exceeded {} bytes",
                                    max_event_bytes_);
  }
  if (at_start_ && !chunk.empty()) {
    // A BOM may itself arrive split: hold back a prefix of one until it is whole.
    static constexpr std::string_view kBom = "\xEF\xBB\xBF";
    line_.append(chunk);
    chunk = {};
    if (line_.size() < kBom.size() && kBom.starts_with(line_)) return Status();
    at_start_ = false;
    std::string held = std::move(line_);
    line_.clear();
    std::string_view rest = held;
    if (rest.starts_with(kBom)) rest.remove_prefix(kBom.size());
    return feed(rest, out);
  }
  size_t at = 0;
  while (at < chunk.size()) {
    if (after_cr_) {
      after_cr_ = false;
      if (chunk[at] == '\n') {  // the LF of a CRLF split across chunks, or just after its CR
        ++at;
        continue;
      }
    }
    const size_t end = chunk.find_first_of("\r\n", at);
    const size_t stop = end == std::string_view::npos ? chunk.size() : end;
    event_bytes_ += stop - at;
    if (event_bytes_ > max_event_bytes_) {
      failed_ = true;
      line_.clear();
      return Status::invalid_argument(
          "the event stream is malformed: one event is larger than {} bytes", max_event_bytes_);
    }
    line_.append(chunk.substr(at, stop - at));
    if (end == std::string_view::npos) break;
    after_cr_ = chunk[end] == '\r';
    at = end + 1;
    ARTANA_RETURN_IF_ERROR(take_line(out));
  }
  return Status();
}

Status SseParser::take_line(std::vector<SseEvent>& out) {
  std::string line = std::move(line_);
  line_.clear();
  if (line.empty()) {
    dispatch(out);
    return Status();
  }
  if (line.front() == ':') return Status();  // a comment (servers send them as keep-alives)
  has_fields_ = true;
  std::string_view field = line, value;
  if (const size_t colon = line.find(':'); colon != std::string::npos) {
    field = std::string_view(line).substr(0, colon);
    value = std::string_view(line).substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    type_.assign(value);
  } else if (field == "id") {
    if (value.find('\0') == std::string_view::npos) last_id_.assign(value);
  } else if (field == "retry") {
    bool digits = !value.empty() && value.size() <= 12;
    int64_t ms = 0;
    for (char c : value) {
      digits = digits && c >= '0' && c <= '9';
      if (digits) ms = ms * 10 + (c - '0');
    }
    if (digits) retry_ms_ = ms;
  }
  return Status();
}

void SseParser::dispatch(std::vector<SseEvent>& out) {
  if (has_data_) {
    SseEvent event;
    if (!type_.empty()) event.type = std::move(type_);
    event.data = std::move(data_);
    event.id = last_id_;
    out.push_back(std::move(event));
  }
  type_.clear();
  data_.clear();
  has_data_ = false;
  has_fields_ = false;
  event_bytes_ = 0;
}

}  // namespace artana::io
