#include "artana/kernel/step_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "artana/kernel/canonical_json.h"

namespace artana::kernel {
namespace {

// Event types the fold reads beside kStepKinds' openers and terminals.
constexpr std::string_view kStepDenied = "step_denied";
constexpr std::string_view kToolReconciled = "tool_reconciled";  // only `retry` is recorded
constexpr std::string_view kReplayedWithDrift = "replayed_with_drift";

// 2: the inline value (its type in flags bits 3-5, its 8 bytes after the cost).
constexpr uint8_t kRecordFormat = 2;
constexpr uint8_t kInlineTypeShift = 3;

const std::string* string_field(const Json& payload, std::string_view name) {
  const Json* v = payload.find(name);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

Result<std::optional<Sha256>> hash_field(const Json& payload, std::string_view name) {
  const Json* v = payload.find(name);
  if (v == nullptr) return std::optional<Sha256>();
  Result<Sha256> hash = v->is_string() ? Sha256::from_hex(v->as_string())
                                       : Result<Sha256>(Status::invalid_argument("not a string"));
  if (!hash.ok()) {
    return Status::invalid_argument("payload.{}: must be 64 lowercase hex digits", name);
  }
  return std::optional<Sha256>(*hash);
}

// How a terminal event ended its step.
StepEnd step_end(std::string_view type, const Json& payload) {
  if (type == "model_failed") {
    const Json* error = payload.find("error");
    const Json* transient = error != nullptr ? error->find("transient") : nullptr;
    return transient != nullptr && transient->is_bool() && transient->as_bool()
               ? StepEnd::kFailedTransient
               : StepEnd::kFailed;
  }
  if (type == "tool_completed") {
    const std::string* outcome = string_field(payload, "outcome");
    if (outcome == nullptr || *outcome == "unknown_outcome") return StepEnd::kUnknown;
    if (*outcome == "success") return StepEnd::kSucceeded;
    if (*outcome == "transient_error") return StepEnd::kFailedTransient;
    return StepEnd::kFailed;
  }
  return StepEnd::kSucceeded;
}

void add_counts(PiiCounts& to, const PiiCounts& from) {
  for (const auto& [label, n] : from) {
    auto it = std::find_if(to.begin(), to.end(), [&](const auto& e) { return e.first == label; });
    if (it == to.end()) {
      to.emplace_back(label, n);
    } else {
      it->second += n;
    }
  }
}

bool has_inline_bits(InlineValue::Type type) {
  return type == InlineValue::Type::kInteger || type == InlineValue::Type::kDouble;
}

// ---- the byte encoding: little-endian fixed-width integers, u8/u16 lengths ----

void put_u8(std::string& out, uint8_t v) { out.push_back(static_cast<char>(v)); }
void put_u16(std::string& out, uint16_t v) {
  put_u8(out, v & 0xff);
  put_u8(out, v >> 8);
}
void put_u64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) put_u8(out, static_cast<uint8_t>(v >> (8 * i)));
}
void put_counts(std::string& out, const PiiCounts& counts) {
  put_u8(out, static_cast<uint8_t>(std::min<size_t>(counts.size(), 255)));
  for (size_t i = 0; i < counts.size() && i < 255; ++i) {
    const std::string& label = counts[i].first;
    put_u8(out, static_cast<uint8_t>(std::min<size_t>(label.size(), 255)));
    out.append(label, 0, std::min<size_t>(label.size(), 255));
    put_u64(out, static_cast<uint64_t>(counts[i].second));
  }
}

class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool u8(uint8_t& v) {
    if (pos_ + 1 > bytes_.size()) return false;
    v = static_cast<uint8_t>(bytes_[pos_++]);
    return true;
  }
  bool u16(uint16_t& v) {
    uint8_t lo = 0, hi = 0;
    if (!u8(lo) || !u8(hi)) return false;
    v = static_cast<uint16_t>(lo | (hi << 8));
    return true;
  }
  bool u64(uint64_t& v) {
    if (pos_ + 8 > bytes_.size()) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(bytes_[pos_ + i])} << (8 * i);
    pos_ += 8;
    return true;
  }
  bool i64(int64_t& v) {
    uint64_t u = 0;
    if (!u64(u)) return false;
    v = static_cast<int64_t>(u);
    return true;
  }
  bool text(size_t n, std::string& out) {
    if (pos_ + n > bytes_.size()) return false;
    out.assign(bytes_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool hash(Sha256& out) {
    if (pos_ + 32 > bytes_.size()) return false;
    out = Sha256::from_bytes(bytes_.substr(pos_, 32));
    pos_ += 32;
    return true;
  }
  bool counts(PiiCounts& out) {
    uint8_t n = 0;
    if (!u8(n)) return false;
    out.resize(n);
    for (auto& [label, count] : out) {
      uint8_t len = 0;
      if (!u8(len) || !text(len, label) || !i64(count)) return false;
    }
    return true;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

}  // namespace

void add_pii_counts(PiiCounts& counts, const Json* allocated) {
  if (allocated == nullptr || !allocated->is_object()) return;
  for (const auto& [label, n] : allocated->as_object()) {
    if (n.is_integer()) add_counts(counts, {{label, n.as_integer()}});
  }
}

Result<std::optional<StepDelta>> step_delta(std::string_view type, const Json& payload) {
  const std::string* key = string_field(payload, "step_key");
  StepDelta delta;
  if (key == nullptr) {
    // run_started is read whole when a run loads: its placeholders need no note.
    if (type == "run_started" ||
        (payload.find("pii_allocated") == nullptr && payload.find("cost_micro_usd") == nullptr)) {
      return std::optional<StepDelta>();
    }
    delta.role = StepDelta::Role::kNote;
    add_pii_counts(delta.pii, payload.find("pii_allocated"));
    if (const Json* cost = payload.find("cost_micro_usd"); cost != nullptr && cost->is_integer()) {
      delta.cost_micro_usd = cost->as_integer();
    }
    return std::optional<StepDelta>(std::move(delta));
  }
  if (const std::optional<StepEventRole> role = step_event_role(type)) {
    delta.kind = role->kind;
    if (role->ends) {
      delta.role = StepDelta::Role::kEnded;
      delta.end = step_end(type, payload);
      // Exactly {step_key, value}: the payload is rebuilt from the record (Kernel::read_terminal).
      if (is_value_kind(role->kind) && payload.size() == 2) {
        delta.value = InlineValue::of(payload.find("value"));
      }
    } else {
      delta.role = StepDelta::Role::kOpened;
      ARTANA_ASSIGN_OR_RETURN(delta.hash, hash_field(payload, "request_hash"));
      // Only a tool can have side effects; an old request without the flag is assumed to.
      const Json* side_effect = payload.find("side_effect");
      delta.side_effect =
          role->kind == StepKind::kTool &&
          (side_effect == nullptr || !side_effect->is_bool() || side_effect->as_bool());
      if (const Json* due = payload.find("due_at_us"); due != nullptr && due->is_integer()) {
        delta.due_at_us = due->as_integer();
      }
    }
  } else if (type == kStepDenied) {
    delta.role = StepDelta::Role::kDenied;
    if (const std::string* kind = string_field(payload, "step_kind")) {
      delta.kind = parse_step_kind(*kind);
    }
    const std::string* denied = string_field(payload, "kind");
    delta.denied_kind = denied != nullptr
                            ? parse_error_kind(*denied).value_or(ErrorKind::kPolicyViolation)
                            : ErrorKind::kPolicyViolation;
  } else if (type == kToolReconciled) {
    delta.role = StepDelta::Role::kRetryArmed;
  } else if (type == kReplayedWithDrift) {
    delta.role = StepDelta::Role::kDriftNoted;
    ARTANA_ASSIGN_OR_RETURN(delta.hash, hash_field(payload, "request_hash"));
  } else {
    return std::optional<StepDelta>();
  }
  if (key->empty() || key->size() > 400) {
    return Status::invalid_argument("payload.step_key: must be 1..400 bytes, got {}", key->size());
  }
  delta.step_key = *key;
  add_pii_counts(delta.pii, payload.find("pii_allocated"));
  if (const Json* cost = payload.find("cost_micro_usd"); cost != nullptr && cost->is_integer()) {
    delta.cost_micro_usd = cost->as_integer();
  }
  return std::optional<StepDelta>(std::move(delta));
}

InlineValue InlineValue::of(const Json* value) {
  InlineValue out;
  if (value == nullptr) return out;
  switch (value->type()) {
    case Json::Type::kNull:
      out.type = Type::kNull;
      break;
    case Json::Type::kBool:
      out.type = value->as_bool() ? Type::kTrue : Type::kFalse;
      break;
    case Json::Type::kInteger:
      if (value->as_integer() > kMaxSafeInteger || value->as_integer() < -kMaxSafeInteger) break;
      out.type = Type::kInteger;
      out.bits = static_cast<uint64_t>(value->as_integer());
      break;
    case Json::Type::kDouble: {
      // What a read of the event gives back, without writing and reading it on every append:
      // RFC 8785 writes an integral double below 1e21 without fraction or exponent ("2",
      // "0" for -0.0), which the reader takes as an integer up to ±2^53 and as that double
      // beyond (json_parse.h). Any other finite double reads back the same.
      const double d = value->as_double();
      if (!std::isfinite(d)) break;
      if (d == std::trunc(d) && std::fabs(d) <= static_cast<double>(kMaxSafeInteger)) {
        out.type = Type::kInteger;
        out.bits = static_cast<uint64_t>(static_cast<int64_t>(d));
        break;
      }
      out.type = Type::kDouble;
      std::memcpy(&out.bits, &d, sizeof d);
      break;
    }
    default:
      break;
  }
  return out;
}

Json InlineValue::json() const {
  switch (type) {
    case Type::kFalse:
      return Json(false);
    case Type::kTrue:
      return Json(true);
    case Type::kInteger:
      return Json(static_cast<int64_t>(bits));
    case Type::kDouble: {
      double d = 0;
      std::memcpy(&d, &bits, sizeof d);
      return Json(d);
    }
    default:
      return Json();
  }
}

StepIndexRecord& StepIndexRecord::operator=(const StepIndexRecord& other) {
  if (this == &other) return *this;
  kind = other.kind;
  end = other.end;
  side_effect = other.side_effect;
  retry_armed = other.retry_armed;
  denied_kind = other.denied_kind;
  request_hash = other.request_hash;
  open_seq = other.open_seq;
  terminal_seq = other.terminal_seq;
  denied_seq = other.denied_seq;
  due_at_us = other.due_at_us;
  cost_micro_usd = other.cost_micro_usd;
  value = other.value;
  extras_ = other.extras_ ? std::make_unique<StepExtras>(*other.extras_) : nullptr;
  return *this;
}

const StepExtras& StepIndexRecord::extras() const {
  static const StepExtras kNone;
  return extras_ ? *extras_ : kNone;
}

StepExtras& StepIndexRecord::mutable_extras() {
  if (!extras_) extras_ = std::make_unique<StepExtras>();
  return *extras_;
}

void apply_step_delta(StepIndexRecord& record, const StepDelta& delta, uint64_t seq) {
  if (!delta.pii.empty()) add_counts(record.mutable_extras().pii_total, delta.pii);
  record.cost_micro_usd += delta.cost_micro_usd;
  switch (delta.role) {
    case StepDelta::Role::kOpened:
      // A new attempt starts open (a reconciled retry too): the retry is used up.
      record.kind = *delta.kind;
      record.open_seq = seq;
      record.terminal_seq = 0;
      record.end = StepEnd::kOpen;
      record.retry_armed = false;
      record.value = InlineValue();
      if (!record.extras().pii_terminal.empty()) record.mutable_extras().pii_terminal.clear();
      if (delta.hash) record.request_hash = delta.hash;
      record.side_effect = delta.side_effect;
      if (delta.due_at_us) record.due_at_us = *delta.due_at_us;
      return;
    case StepDelta::Role::kEnded:
      record.kind = *delta.kind;
      if (record.open_seq == 0) record.open_seq = seq;  // the terminal alone records it
      record.terminal_seq = seq;
      record.end = delta.end;
      record.value = delta.value;
      record.retry_armed = false;
      if (!delta.pii.empty() || !record.extras().pii_terminal.empty()) {
        record.mutable_extras().pii_terminal = delta.pii;
      }
      return;
    case StepDelta::Role::kDenied:
      if (!record.recorded() && delta.kind) record.kind = *delta.kind;
      record.denied_seq = seq;
      record.denied_kind = delta.denied_kind;
      return;
    case StepDelta::Role::kRetryArmed:
      // Reopens the step for one live attempt, used up by the attempt's opening event.
      record.terminal_seq = 0;
      record.end = StepEnd::kOpen;
      record.value = InlineValue();
      record.retry_armed = true;
      if (!record.extras().pii_terminal.empty()) record.mutable_extras().pii_terminal.clear();
      return;
    case StepDelta::Role::kDriftNoted:
      if (delta.hash) {
        const std::vector<Sha256>& noted = record.extras().drift_noted;
        if (std::find(noted.begin(), noted.end(), *delta.hash) == noted.end()) {
          record.mutable_extras().drift_noted.push_back(*delta.hash);
        }
      }
      return;
    case StepDelta::Role::kNote:
      return;
  }
}

std::string encode_step_record(std::string_view step_key, const StepIndexRecord& r) {
  std::string out;
  out.reserve(96 + step_key.size());
  put_u8(out, kRecordFormat);
  put_u8(out, static_cast<uint8_t>(r.kind));
  put_u8(out, static_cast<uint8_t>(r.end));
  put_u8(out, static_cast<uint8_t>((r.side_effect ? 1 : 0) | (r.retry_armed ? 2 : 0) |
                                   (r.request_hash ? 4 : 0) |
                                   (static_cast<uint8_t>(r.value.type) << kInlineTypeShift)));
  put_u64(out, r.open_seq);
  put_u64(out, r.terminal_seq);
  put_u64(out, r.denied_seq);
  put_u64(out, static_cast<uint64_t>(r.due_at_us));
  put_u64(out, static_cast<uint64_t>(r.cost_micro_usd));
  if (has_inline_bits(r.value.type)) put_u64(out, r.value.bits);
  if (r.request_hash) out.append(r.request_hash->raw());
  const std::string_view denied =
      r.denied_kind == ErrorKind::kNone ? std::string_view() : error_kind_name(r.denied_kind);
  put_u8(out, static_cast<uint8_t>(denied.size()));
  out.append(denied);
  const StepExtras& extras = r.extras();
  put_u8(out, static_cast<uint8_t>(std::min<size_t>(extras.drift_noted.size(), 255)));
  for (size_t i = 0; i < extras.drift_noted.size() && i < 255; ++i) {
    out.append(extras.drift_noted[i].raw());
  }
  put_counts(out, extras.pii_terminal);
  put_counts(out, extras.pii_total);
  put_u16(out, static_cast<uint16_t>(step_key.size()));
  out.append(step_key);
  return out;
}

Result<std::pair<std::string, StepIndexRecord>> decode_step_record(std::string_view bytes,
                                                                   std::string_view where) {
  std::pair<std::string, StepIndexRecord> out;
  StepIndexRecord& r = out.second;
  Reader in(bytes);
  uint8_t format = 0, kind = 0, end = 0, flags = 0, n = 0;
  uint16_t key_size = 0;
  bool ok = in.u8(format) && format == kRecordFormat && in.u8(kind) && kind < kStepKinds.size() &&
            in.u8(end) && end <= static_cast<uint8_t>(StepEnd::kUnknown) && in.u8(flags) &&
            in.u64(r.open_seq) && in.u64(r.terminal_seq) && in.u64(r.denied_seq) &&
            in.i64(r.due_at_us) && in.i64(r.cost_micro_usd);
  const uint8_t inline_type = flags >> kInlineTypeShift;
  ok = ok && inline_type <= static_cast<uint8_t>(InlineValue::Type::kDouble);
  if (ok) r.value.type = static_cast<InlineValue::Type>(inline_type);
  if (ok && has_inline_bits(r.value.type)) ok = in.u64(r.value.bits);
  if (ok && (flags & 4)) ok = in.hash(r.request_hash.emplace());
  std::string denied;
  ok = ok && in.u8(n) && in.text(n, denied) && in.u8(n);
  if (ok && !denied.empty()) {
    r.denied_kind = parse_error_kind(denied).value_or(ErrorKind::kPolicyViolation);
  }
  StepExtras extras;
  if (ok) extras.drift_noted.resize(n);
  for (size_t i = 0; ok && i < extras.drift_noted.size(); ++i) ok = in.hash(extras.drift_noted[i]);
  ok = ok && in.counts(extras.pii_terminal) && in.counts(extras.pii_total) && in.u16(key_size) &&
       in.text(key_size, out.first) && in.done();
  if (ok && !extras.empty()) r.mutable_extras() = std::move(extras);
  if (!ok) return Status::corruption("{}: a step index record is damaged", where);
  r.kind = static_cast<StepKind>(kind);
  r.end = static_cast<StepEnd>(end);
  r.side_effect = (flags & 1) != 0;
  r.retry_armed = (flags & 2) != 0;
  return out;
}

}  // namespace artana::kernel
