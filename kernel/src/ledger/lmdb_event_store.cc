// LmdbEventStore's writes: runs created, events appended (at once, held, pipelined or on the
// commit thread), leases, blobs; and opening a store.
#include "ledger/lmdb_event_store_impl.h"

#include <chrono>
#include <cstdlib>

#include "ledger/blob_store.h"
#include "ledger/run_indexes.h"

namespace artana::kernel {
namespace ledger {
namespace {

int64_t system_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

LmdbEventStore::LmdbEventStore(std::unique_ptr<LedgerEnv> env, const LmdbStoreOptions& options)
    : env_(std::move(env)),
      durability_(options.durability),
      config_{options.large_value_bytes, options.lease_ttl_ms * 1000,
              options.clock_us ? options.clock_us : system_clock_us},
      commits_(*env_, options.durability) {}

Result<RunInfo> LmdbEventStore::create_run(const RunHeader& header) {
  ARTANA_RETURN_IF_ERROR(ledger::check_run_header(header));
  RunInfo created;
  WriteOp op;
  op.bytes_hint = 1024;
  op.apply = [&](ledger::WriteContext& ctx) {
    return ledger::apply_create_run(ctx, config_, header, created);
  };
  submit({&op});
  if (!op.status.ok()) return op.status;
  return created;
}

Result<AppendResult> LmdbEventStore::append(AppendRequest request) {
  ARTANA_RETURN_IF_ERROR(ledger::check_append_request(request));
  ARTANA_RETURN_IF_ERROR(deferred_.take_failure(request.run_id));
  ARTANA_ASSIGN_OR_RETURN(ledger::PreparedAppend prepared,
                          ledger::prepare_append(config_, request));
  if (ledger::DeferredAppends::holdable(request)) {
    auto held = std::make_unique<ledger::DeferredAppends::Op>();
    held->request = std::move(request);
    held->prepared = std::move(prepared);
    AppendResult result = ledger::DeferredAppends::predicted(*held);
    if (deferred_.add(std::move(held))) flush();
    return result;
  }
  AppendResult result;
  WriteOp op;
  op.barrier = request.barrier;
  op.bytes_hint = prepared.bytes();
  op.apply = [&](ledger::WriteContext& ctx) {
    return ledger::apply_append(ctx, config_, request, prepared, result);
  };
  submit({&op});
  if (!op.status.ok()) {
    // Refused because a held append of the run before it failed: that is the cause.
    Status held = deferred_.take_failure(request.run_id);
    return held.ok() ? op.status : held;
  }
  ledger::attach_payloads(request, prepared, result);
  return result;
}

void LmdbEventStore::flush() {
  if (!deferred_.empty()) submit({});
}

Result<AppendResult> LmdbEventStore::append_pipelined(
    AppendRequest request, std::function<void(const Status&)> on_committed) {
  // No sync to wait for, or an operator's append (it neither takes nor keeps the lease):
  // committed here.
  if (durability_ == Durability::kNone || request.outside_owner)
    return EventStore::append_pipelined(std::move(request), std::move(on_committed));
  ARTANA_RETURN_IF_ERROR(deferred_.take_failure(request.run_id));
  flush();  // a run's held events commit before what it writes next
  return pipelined_.issue(std::move(request), std::move(on_committed));
}

void LmdbEventStore::renew_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                           std::function<void(const Status&)> on_done) {
  if (durability_ == Durability::kNone)
    return EventStore::renew_lease_pipelined(run, lease_epoch, std::move(on_done));
  auto op = std::make_unique<WriteOp>();
  op->apply = [this, run, lease_epoch](ledger::WriteContext& ctx) {
    return ledger::apply_renew_lease(ctx, config_, run, lease_epoch);
  };
  pipelined_.issue_op(run, std::move(op), std::move(on_done));
}

void LmdbEventStore::release_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                                             std::function<void(const Status&)> on_done) {
  if (durability_ == Durability::kNone)
    return EventStore::release_lease_pipelined(run, lease_epoch, std::move(on_done));
  auto op = std::make_unique<WriteOp>();
  op->apply = [run, lease_epoch](ledger::WriteContext& ctx) {
    return ledger::apply_release_lease(ctx, run, lease_epoch);
  };
  pipelined_.issue_op(run, std::move(op), std::move(on_done));
}

void LmdbEventStore::append_async(AppendRequest request,
                                  std::function<void(Result<AppendResult>)> on_done) {
  if (durability_ == Durability::kNone) {  // no sync to wait for: complete inline
    on_done(append(std::move(request)));
    return;
  }
  request.deferrable = false;
  flush();  // a run's held events commit before what it writes next
  if (Status checked = ledger::check_append_request(request); !checked.ok())
    return on_done(checked);
  auto prepared = ledger::prepare_append(config_, request);
  if (!prepared.ok()) return on_done(prepared.status());
  struct State {
    AppendRequest request;
    ledger::PreparedAppend prepared;
    AppendResult result;
  };
  auto state = std::make_shared<State>();
  state->request = std::move(request);
  state->prepared = std::move(prepared).value();
  auto op = std::make_unique<WriteOp>();
  op->barrier = state->request.barrier;
  op->bytes_hint = state->prepared.bytes();
  op->apply = [this, state](ledger::WriteContext& ctx) {
    return ledger::apply_append(ctx, config_, state->request, state->prepared, state->result);
  };
  commits_.submit_async(std::move(op), [state, done = std::move(on_done)](WriteOp& finished) {
    if (!finished.status.ok()) return done(finished.status);
    ledger::attach_payloads(state->request, state->prepared, state->result);
    done(std::move(state->result));
  });
}

Status LmdbEventStore::release_lease(const RunId& run, uint64_t lease_epoch) {
  WriteOp op;
  op.apply = [&](ledger::WriteContext& ctx) {
    return ledger::apply_release_lease(ctx, run, lease_epoch);
  };
  submit({&op});
  return op.status;
}

Status LmdbEventStore::renew_lease(const RunId& run, uint64_t lease_epoch) {
  WriteOp op;
  op.apply = [&](ledger::WriteContext& ctx) {
    return ledger::apply_renew_lease(ctx, config_, run, lease_epoch);
  };
  submit({&op});
  return op.status;
}

Status LmdbEventStore::sync() {
  flush();
  pipelined_.wait_all();
  return env_->sync();
}

Result<std::string> LmdbEventStore::put_blob(std::string_view bytes) {
  flush();
  // Hash and copy on the caller's thread, outside the writer's critical section.
  ARTANA_ASSIGN_OR_RETURN(ledger::PreparedBlob blob, ledger::prepare_blob(bytes));
  {
    // Stored already (the usual case: a run resumed, or a script many runs share): no
    // write transaction, no sync.
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    ARTANA_ASSIGN_OR_RETURN(bool intact, ledger::blob_intact(reader, blob));
    if (intact) return blob.key.hex();
  }
  WriteOp op;
  op.bytes_hint = blob.value.size() + 64;
  // A barrier: in kEffects the blob is synced fully before its hash is returned. A run's
  // script_loaded event will name it, and no run may survive a power loss without the code
  // it ran. (kEffects may undo only the last commit, so an event committed after the blob
  // already implies it — its data sync flushes this commit — and that also covers a blob
  // found above while a concurrent put is still syncing; the barrier makes the blob durable
  // on its own, without leaning on later commits, for one fsync per distinct source.)
  // kFull syncs every commit anyway; kNone never syncs, like appends.
  op.barrier = true;
  op.apply = [&](ledger::WriteContext& ctx) { return ledger::apply_put_blob(ctx, blob); };
  submit({&op});
  if (!op.status.ok()) return op.status;
  return blob.key.hex();
}

}  // namespace ledger

std::string default_data_dir() {
  const char* home = std::getenv("ARTANA_HOME");
  return home != nullptr && home[0] != '\0' ? std::string(home) : std::string("./.artana");
}

Result<std::unique_ptr<EventStore>> open_lmdb_store(const std::string& dir,
                                                    LmdbStoreOptions options) {
  if (options.large_value_bytes < 128) {
    return Status::invalid_argument("large_value_bytes must be at least 128, got {}",
                                    options.large_value_bytes);
  }
  if (options.lease_ttl_ms <= 0) {
    return Status::invalid_argument("lease_ttl_ms must be positive, got {}", options.lease_ttl_ms);
  }
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<ledger::LedgerEnv> env,
                          ledger::LedgerEnv::open(dir, options));
  return std::unique_ptr<EventStore>(new ledger::LmdbEventStore(std::move(env), options));
}

}  // namespace artana::kernel
