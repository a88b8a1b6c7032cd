// The lease rules of the ledger's writes: who may append to a run, when an append takes the
// lease (a new epoch fencing the last owner), and a lease renewed or released.
#include "ledger/lease_ops.h"

#include "kernel_log.h"
#include "ledger/event_codec.h"
#include "ledger/ledger_reader.h"
#include "ledger/process_identity.h"
#include "ledger/run_indexes.h"

namespace artana::kernel::ledger {

Result<bool> lease_takeover(const AppendRequest& request, const RunRecord& record, int64_t now) {
  const ProcessIdentity& me = this_process();
  const Lease& lease = record.lease;
  const bool ours = !lease.owner_id.empty() && lease.owner_id == me.owner_id;
  if (request.lease_epoch != 0) {
    if (ours && lease.epoch == request.lease_epoch) return false;
    return Status::fenced(
        "run '{}': lease epoch {} is stale; the run is now owned by {} at epoch {}", record.run_id,
        request.lease_epoch, lease.owner_id.empty() ? "nobody" : lease.owner_id, lease.epoch);
  }
  if (!lease.owner_id.empty() && !ours) {
    const bool expired = lease.expires_at_us <= now;
    const bool dead = lease.host == me.host && !process_alive(lease.pid, lease.pid_start);
    if (!expired && !dead) {
      return Status::lease_held(
          "run '{}' is owned by {} (pid {} on {}, epoch {}) for another {} ms; stop that "
          "process or wait for its lease to expire",
          record.run_id, lease.owner_id, lease.pid, lease.host, lease.epoch,
          (lease.expires_at_us - now) / 1000);
    }
  }
  return !ours;
}

Status take_or_check_lease(const StoreConfig& config, const AppendRequest& request,
                           RunRecord& record) {
  const int64_t now = config.clock_us();
  ARTANA_ASSIGN_OR_RETURN(bool takes, lease_takeover(request, record, now));
  Lease& lease = record.lease;
  if (takes) {
    if (lease.owner_id.empty() && lease.epoch > 0) {
      kernel_log().info("lease taken run={} epoch={} (released by its last owner)", record.run_id,
                        lease.epoch);
    }
    if (!lease.owner_id.empty()) {
      kernel_log().info("lease taken over run={} from={} epoch={} reason={} expired_ms_ago={}",
                        record.run_id, lease.owner_id, lease.epoch,
                        lease.expires_at_us <= now ? "expired" : "owner process gone",
                        (now - lease.expires_at_us) / 1000);
    }
    // A takeover (or a first owner): the new epoch fences every append of the old owner.
    const ProcessIdentity& me = this_process();
    lease.epoch += 1;
    lease.owner_id = me.owner_id;
    lease.host = me.host;
    lease.pid = me.pid;
    lease.pid_start = me.start_ticks;
  }
  lease.expires_at_us = now + config.lease_ttl_us;
  return Status();
}

// Nobody owns the run any more. The epoch is kept: the next owner's takeover increments it,
// fencing any late append of the last one.
void clear_owner(Lease& lease) {
  lease.owner_id.clear();
  lease.host.clear();
  lease.pid = 0;
  lease.pid_start = 0;
  lease.expires_at_us = 0;
}

namespace {

// The run's record, if this process holds its lease at `lease_epoch`; else kFenced.
Result<RunRecord> held_record(WriteContext& ctx, const RunId& run, uint64_t lease_epoch,
                              std::string_view action) {
  LedgerReader reader(ctx.env(), ctx.txn());
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
  if (record.lease.owner_id != this_process().owner_id || record.lease.epoch != lease_epoch) {
    return Status::fenced("run '{}': cannot {} lease epoch {}; it is held by {} at epoch {}",
                          run.str(), action, lease_epoch,
                          record.lease.owner_id.empty() ? "nobody" : record.lease.owner_id,
                          record.lease.epoch);
  }
  return record;
}

Status put_record(WriteContext& ctx, const RunRecord& record) {
  std::string number;
  put_u64be(number, record.run_number);
  return ctx.put(ctx.env().dbi().runs, number, encode_run_record(record));
}

}  // namespace

Status apply_renew_lease(WriteContext& ctx, const StoreConfig& config, const RunId& run,
                         uint64_t lease_epoch) {
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, held_record(ctx, run, lease_epoch, "renew"));
  record.lease.expires_at_us = config.clock_us() + config.lease_ttl_us;
  return put_record(ctx, record);
}

Status apply_release_lease(WriteContext& ctx, const RunId& run, uint64_t lease_epoch) {
  ARTANA_ASSIGN_OR_RETURN(RunRecord record, held_record(ctx, run, lease_epoch, "release"));
  clear_owner(record.lease);
  return put_record(ctx, record);
}

}  // namespace artana::kernel::ledger
