#include "ledger/event_codec.h"

#include <time.h>

#include <cstdlib>
#include <cstring>
#include <optional>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "random_id.h"

namespace artana::kernel::ledger {
namespace {

void append_quoted(std::string& out, std::string_view s) {
  // Ids, types and timestamps are validated printable ASCII without '"' or '\', so quoting
  // them is their canonical form.
  out += '"';
  out.append(s);
  out += '"';
}

Result<std::string_view> string_field(const Json& doc, std::string_view name,
                                      std::string_view where) {
  const Json* v = doc.find(name);
  if (v == nullptr || !v->is_string()) {
    return Status::corruption("{}: stored event has no string \"{}\"", where, name);
  }
  return std::string_view(v->as_string());
}

// Reads what encode_event_value wrote, field by field, parsing only the payload as JSON:
// every replayed result is read through here. The envelope's values hold no '"' or '\\'
// (validated ids, types, timestamps; hex; digits), so the payload ends where the last
// `,"prev_hash":"` begins. nullopt when the text is not in that exact layout (parse_event
// then reads it as JSON and names what is wrong).
class EnvelopeReader {
 public:
  explicit EnvelopeReader(std::string_view text) : text_(text) {}
  bool literal(std::string_view expected) {
    if (text_.substr(pos_, expected.size()) != expected) return false;
    pos_ += expected.size();
    return true;
  }
  // Up to the next '"' (consumed).
  bool quoted_rest(std::string_view& out) {
    size_t end = text_.find('"', pos_);
    if (end == std::string_view::npos) return false;
    out = text_.substr(pos_, end - pos_);
    pos_ = end + 1;
    return true;
  }
  bool digits(uint64_t& out) {
    size_t start = pos_;
    out = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && pos_ - start < 19) {
      out = out * 10 + static_cast<uint64_t>(text_[pos_++] - '0');
    }
    return pos_ > start && (pos_ - start == 1 || text_[start] != '0');
  }
  size_t pos() const { return pos_; }
  void seek(size_t pos) { pos_ = pos; }
  bool at_end() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

// Where the last `suffix_start` at or after `from` begins, found from the end by its comma: the
// envelope after the payload holds five commas, so this tries about six candidates where
// rfind would compare at every byte of the envelope.
size_t last_suffix_start(std::string_view text, std::string_view suffix_start, size_t from) {
  size_t end = text.size();
  while (end > from) {
    const void* comma = memrchr(text.data() + from, suffix_start.front(), end - from);
    if (comma == nullptr) return std::string_view::npos;
    const size_t at = static_cast<size_t>(static_cast<const char*>(comma) - text.data());
    if (text.substr(at, suffix_start.size()) == suffix_start) return at;
    end = at;
  }
  return std::string_view::npos;
}

}  // namespace

std::optional<EventLayout> event_layout(std::string_view canonical) {
  constexpr std::string_view kSuffixStart = ",\"prev_hash\":\"";
  EnvelopeReader in(canonical);
  EventLayout out;
  if (!in.literal("{\"event_id\":\"") || !in.quoted_rest(out.event_id) ||
      !in.literal(",\"payload\":")) {
    return std::nullopt;
  }
  const size_t payload_start = in.pos();
  const size_t suffix = last_suffix_start(canonical, kSuffixStart, payload_start);
  if (suffix == std::string_view::npos) return std::nullopt;
  in.seek(suffix);
  if (!in.literal(kSuffixStart) || !in.quoted_rest(out.prev_hash) ||
      !in.literal(",\"run_id\":\"") || !in.quoted_rest(out.run_id) || !in.literal(",\"seq\":") ||
      !in.digits(out.seq) || !in.literal(",\"tenant_id\":\"") || !in.quoted_rest(out.tenant_id) ||
      !in.literal(",\"timestamp\":\"") || !in.quoted_rest(out.timestamp) ||
      !in.literal(",\"type\":\"") || !in.quoted_rest(out.type) || !in.literal("}") ||
      !in.at_end() || out.seq == 0) {
    return std::nullopt;
  }
  out.payload = canonical.substr(payload_start, suffix - payload_start);
  return out;
}

namespace {

std::optional<Result<Event>> parse_event_layout(std::string_view canonical, const Sha256& hash,
                                                std::string_view where, bool envelope) {
  std::optional<EventLayout> layout = event_layout(canonical);
  if (!layout) return std::nullopt;
  Result<Sha256> prev_hash =
      envelope ? Sha256::from_hex(layout->prev_hash) : Result<Sha256>(Sha256());
  if (!prev_hash.ok()) return std::nullopt;
  Result<Json> payload = parse_json(layout->payload, where);
  if (!payload.ok() || !payload->is_object()) return std::nullopt;
  Event event;
  if (envelope) {
    event.event_id = layout->event_id;
    event.tenant_id = TenantId(std::string(layout->tenant_id));
    event.timestamp = layout->timestamp;
  }
  event.run_id = RunId(std::string(layout->run_id));
  event.type = layout->type;
  event.seq = layout->seq;
  event.prev_hash = *prev_hash;
  event.hash = hash;
  event.payload = std::move(payload).value();
  return Result<Event>(std::move(event));
}

}  // namespace

Result<Sha256> encode_event_value(const Envelope& e, std::string_view payload_text,
                                  std::string& value) {
  value.clear();
  value.reserve(kEventValueHeader + payload_text.size() + 256);
  value.push_back(static_cast<char>(kEventFormat));
  value.append(32, '\0');  // the hash, filled in below
  value += "{\"event_id\":";
  append_quoted(value, e.event_id);
  value += ",\"payload\":";
  value += payload_text;
  value += ",\"prev_hash\":\"";
  append_hex(value, e.prev_hash->raw());
  value += "\",\"run_id\":";
  append_quoted(value, e.run_id);
  value += ",\"seq\":";
  value += std::to_string(e.seq);
  value += ",\"tenant_id\":";
  append_quoted(value, e.tenant_id);
  value += ",\"timestamp\":";
  append_quoted(value, e.timestamp);
  value += ",\"type\":";
  append_quoted(value, e.type);
  value += '}';
  Sha256 hash = Sha256::of(std::string_view(value).substr(kEventValueHeader));
  std::copy(hash.bytes.begin(), hash.bytes.end(), value.begin() + 1);
  return hash;
}

Result<StoredEvent> split_event_value(std::string_view value, std::string_view where) {
  if (value.size() <= kEventValueHeader || static_cast<uint8_t>(value[0]) != kEventFormat) {
    return Status::corruption("{}: stored event value is malformed ({} bytes)", where,
                              value.size());
  }
  return StoredEvent{Sha256::from_bytes(value.substr(1, 32)), value.substr(kEventValueHeader)};
}

Result<Event> parse_event(std::string_view canonical, const Sha256& hash, std::string_view where,
                          bool envelope) {
  if (std::optional<Result<Event>> fast = parse_event_layout(canonical, hash, where, envelope)) {
    return std::move(*fast);
  }
  auto parsed = parse_json(canonical, where);
  if (!parsed.ok()) return Status::corruption("{}", parsed.status().message());
  Json& doc = *parsed;
  if (!doc.is_object() || doc.size() != 8) {
    return Status::corruption("{}: stored event does not have exactly the 8 event fields", where);
  }
  Event event;
  ARTANA_ASSIGN_OR_RETURN(std::string_view id, string_field(doc, "event_id", where));
  ARTANA_ASSIGN_OR_RETURN(std::string_view run, string_field(doc, "run_id", where));
  ARTANA_ASSIGN_OR_RETURN(std::string_view tenant, string_field(doc, "tenant_id", where));
  ARTANA_ASSIGN_OR_RETURN(std::string_view type, string_field(doc, "type", where));
  ARTANA_ASSIGN_OR_RETURN(std::string_view ts, string_field(doc, "timestamp", where));
  ARTANA_ASSIGN_OR_RETURN(std::string_view prev, string_field(doc, "prev_hash", where));
  const Json* seq = doc.find("seq");
  Json* payload = doc.find("payload");
  if (seq == nullptr || !seq->is_integer() || seq->as_integer() < 1 || payload == nullptr ||
      !payload->is_object()) {
    return Status::corruption("{}: stored event has a bad seq or payload", where);
  }
  auto prev_hash = Sha256::from_hex(prev);
  if (!prev_hash.ok())
    return Status::corruption("{}: prev_hash: {}", where, prev_hash.status().message());
  event.event_id = id;
  event.run_id = RunId(std::string(run));
  event.tenant_id = TenantId(std::string(tenant));
  event.type = type;
  event.timestamp = ts;
  event.seq = static_cast<uint64_t>(seq->as_integer());
  event.prev_hash = *prev_hash;
  event.hash = hash;
  event.payload = std::move(*payload);
  return event;
}

Result<std::string> export_line(std::string_view canonical, const Sha256& hash) {
  // "hash" sorts right after "event_id", the first member: {"event_id":"…","hash":"…",…
  constexpr std::string_view kPrefix = "{\"event_id\":\"";
  size_t id_end = canonical.find('"', kPrefix.size());
  if (canonical.substr(0, kPrefix.size()) != kPrefix || id_end == std::string_view::npos) {
    return Status::corruption("stored event does not start with its event_id");
  }
  std::string line;
  line.reserve(canonical.size() + 80);
  line.append(canonical.substr(0, id_end + 1));
  line += ",\"hash\":\"";
  append_hex(line, hash.raw());
  line += '"';
  line.append(canonical.substr(id_end + 1));
  line += '\n';
  return line;
}

std::string new_event_id() { return random_id(); }

namespace {

// Writes `value` as exactly `width` decimal digits ending just before `end`.
void put_digits(char* end, int64_t value, int width) {
  for (int i = 0; i < width; ++i) {
    *--end = static_cast<char>('0' + value % 10);
    value /= 10;
  }
}

}  // namespace

std::string format_timestamp(int64_t unix_us) {
  // Every append stamps its events: the civil date from days since 1970 (Hinnant's
  // days-to-civil, proleptic Gregorian like gmtime) and fixed-width digits cost ~100
  // instructions where gmtime_r and fmt cost ~4 500.
  int64_t seconds = unix_us / 1'000'000;
  int64_t micros = unix_us % 1'000'000;
  if (micros < 0) {
    micros += 1'000'000;
    seconds -= 1;
  }
  int64_t days = seconds / 86'400;
  int64_t of_day = seconds % 86'400;
  if (of_day < 0) {
    of_day += 86'400;
    days -= 1;
  }
  days += 719'468;  // from 0000-03-01
  const int64_t era = (days >= 0 ? days : days - 146'096) / 146'097;
  const int64_t doe = days - era * 146'097;
  const int64_t yoe = (doe - doe / 1'460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  if (year < 0 || year > 9999) {  // never from a real clock; kept readable all the same
    return fmt::format("{}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z", year, month, day, of_day / 3600,
                       of_day / 60 % 60, of_day % 60, micros);
  }
  std::string out = "0000-00-00T00:00:00.000000Z";
  char* p = out.data();
  put_digits(p + 4, year, 4);
  put_digits(p + 7, month, 2);
  put_digits(p + 10, day, 2);
  put_digits(p + 13, of_day / 3600, 2);
  put_digits(p + 16, of_day / 60 % 60, 2);
  put_digits(p + 19, of_day % 60, 2);
  put_digits(p + 26, micros, 6);
  return out;
}

}  // namespace artana::kernel::ledger
