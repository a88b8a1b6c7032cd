#include "ledger/run_record.h"

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/json_parse.h"
#include "ledger/lmdb_handles.h"

namespace artana::kernel::ledger {
namespace {

constexpr uint8_t kFormat = 2;

void put_str(std::string& out, std::string_view s) {
  uint32_t n = static_cast<uint32_t>(s.size());
  char b[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16), static_cast<char>(n >> 8),
               static_cast<char>(n)};
  out.append(b, 4);
  out.append(s);
}

// Reads fields front to back; any overrun marks the record corrupt instead of reading past.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  bool ok() const { return ok_; }
  uint8_t u8() { return need(1) ? static_cast<uint8_t>(bytes_[at_++]) : 0; }
  uint64_t u64() {
    if (!need(8)) return 0;
    uint64_t v = get_u64be(bytes_, at_);
    at_ += 8;
    return v;
  }
  std::string_view raw(size_t n) {
    if (!need(n)) return {};
    std::string_view v = bytes_.substr(at_, n);
    at_ += n;
    return v;
  }
  std::string str() {
    if (!need(4)) return {};
    uint32_t n = 0;
    for (int i = 0; i < 4; ++i) n = (n << 8) | static_cast<uint8_t>(bytes_[at_++]);
    return std::string(raw(n));
  }
  bool at_end() const { return at_ == bytes_.size(); }

 private:
  bool need(size_t n) {
    if (!ok_ || bytes_.size() - at_ < n) ok_ = false;
    return ok_;
  }
  std::string_view bytes_;
  size_t at_ = 0;
  bool ok_ = true;
};

}  // namespace

std::string encode_run_record(const RunRecord& r) {
  std::string out;
  out.reserve(160 + r.run_id.size() + r.tenant_id.size() + r.header_json.size());
  out.push_back(static_cast<char>(kFormat));
  out.push_back(static_cast<char>(r.status));
  put_u64be(out, r.first_seq);
  put_u64be(out, r.head_seq);
  put_u64be(out, r.extent_seq);
  put_u64be(out, r.extent_position);
  out.append(r.head_hash.raw());
  put_u64be(out, static_cast<uint64_t>(r.created_at_us));
  put_u64be(out, r.lease.epoch);
  put_u64be(out, static_cast<uint64_t>(r.lease.pid));
  put_u64be(out, r.lease.pid_start);
  put_u64be(out, static_cast<uint64_t>(r.lease.expires_at_us));
  put_str(out, r.lease.owner_id);
  put_str(out, r.lease.host);
  put_str(out, r.run_id);
  put_str(out, r.tenant_id);
  put_str(out, r.header_json);
  return out;
}

Result<RunRecord> decode_run_record(std::string_view bytes, uint64_t run_number) {
  Reader in(bytes);
  RunRecord r;
  r.run_number = run_number;
  uint8_t format = in.u8();
  uint8_t status = in.u8();
  r.first_seq = in.u64();
  r.head_seq = in.u64();
  r.extent_seq = in.u64();
  r.extent_position = in.u64();
  std::string_view hash = in.raw(32);
  r.created_at_us = static_cast<int64_t>(in.u64());
  r.lease.epoch = in.u64();
  r.lease.pid = static_cast<int64_t>(in.u64());
  r.lease.pid_start = in.u64();
  r.lease.expires_at_us = static_cast<int64_t>(in.u64());
  r.lease.owner_id = in.str();
  r.lease.host = in.str();
  r.run_id = in.str();
  r.tenant_id = in.str();
  r.header_json = in.str();
  if (!in.ok() || !in.at_end() || format != kFormat ||
      status > static_cast<uint8_t>(RunStatus::kSleeping)) {
    return Status::corruption("run record #{} is damaged ({} bytes, format {})", run_number,
                              bytes.size(), format);
  }
  r.status = static_cast<RunStatus>(status);
  r.head_hash = Sha256::from_bytes(hash);
  return r;
}

Result<std::string> encode_header_json(const RunHeader& header) {
  Json doc = Json::object();
  doc.set("script_hash", header.script_hash);
  if (header.parent_run_id) doc.set("parent_run_id", header.parent_run_id->str());
  if (header.forked_from) {
    doc.set("forked_from", Json::object({{"run_id", header.forked_from->run_id.str()},
                                         {"seq", static_cast<int64_t>(header.forked_from->seq)}}));
  }
  doc.set("metadata", header.metadata.is_null() ? Json::object() : header.metadata);
  return canonical_json(doc, "header");
}

Result<RunInfo> to_run_info(const RunRecord& r) {
  RunInfo info;
  info.run_number = r.run_number;
  info.status = r.status;
  info.first_seq = r.first_seq;
  info.head_seq = r.head_seq;
  info.head_hash = r.head_hash;
  info.created_at_us = r.created_at_us;
  info.lease = r.lease;
  info.header.run_id = RunId(r.run_id);
  info.header.tenant_id = TenantId(r.tenant_id);
  auto doc = parse_json(r.header_json, "run header of " + r.run_id);
  if (!doc.ok()) return Status::corruption("{}", doc.status().message());
  if (const Json* v = doc->find("script_hash"); v && v->is_string()) {
    info.header.script_hash = v->as_string();
  }
  if (const Json* v = doc->find("parent_run_id"); v && v->is_string()) {
    info.header.parent_run_id = RunId(v->as_string());
  }
  if (const Json* v = doc->find("forked_from"); v && v->is_object()) {
    const Json* id = v->find("run_id");
    const Json* seq = v->find("seq");
    if (id == nullptr || !id->is_string() || seq == nullptr || !seq->is_integer()) {
      return Status::corruption("run header of {}: forked_from is malformed", r.run_id);
    }
    info.header.forked_from =
        ForkPoint{RunId(id->as_string()), static_cast<uint64_t>(seq->as_integer())};
  }
  if (const Json* v = doc->find("metadata")) info.header.metadata = *v;
  return info;
}

}  // namespace artana::kernel::ledger
