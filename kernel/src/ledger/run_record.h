// RunRecord: a run's header and head as stored in the `runs` database (value of run_number).
//
// Binary, because it is read and rewritten by every append: decoding it must not parse JSON.
// The header fields an append never needs (script hash, links, metadata) stay an opaque
// canonical-JSON string until someone asks for RunInfo. Format (all integers big-endian):
//   u8 format=2 | u8 status | u64 first_seq | u64 head_seq | u64 extent_seq
//   | u64 extent_position | 32 head_hash | i64 created_at_us
//   | u64 lease.epoch | i64 lease.pid | u64 lease.pid_start | i64 lease.expires_at_us
//   | str lease.owner_id | str lease.host | str run_id | str tenant_id | str header_json
// where str = u32 length + bytes. status is RunStatus's value: 0 running, 1 paused,
// 2 needs_attention, 3 completed, 4 failed, 5 cancelled, 6 sleeping; a larger byte is corrupt.
#pragma once

#include <string>
#include <string_view>

#include "artana/kernel/event_store.h"
#include "artana/kernel/status.h"

namespace artana::kernel::ledger {

struct RunRecord {
  uint64_t run_number = 0;
  RunStatus status = RunStatus::kRunning;
  uint64_t first_seq = 1;
  uint64_t head_seq = 0;
  // The run's last extent (run_extents): events from extent_seq on sit at consecutive log
  // positions from extent_position. Meaningful once the run has events of its own.
  uint64_t extent_seq = 0;
  uint64_t extent_position = 0;
  Sha256 head_hash;
  int64_t created_at_us = 0;
  Lease lease;
  std::string run_id;
  std::string tenant_id;
  std::string header_json;  // {"forked_from":…,"metadata":…,"parent_run_id":…,"script_hash":…}
};

std::string encode_run_record(const RunRecord& record);
Result<RunRecord> decode_run_record(std::string_view bytes, uint64_t run_number);

// The JSON half of a header, and back.
Result<std::string> encode_header_json(const RunHeader& header);
Result<RunInfo> to_run_info(const RunRecord& record);

}  // namespace artana::kernel::ledger
