#include "artana/kernel/lmdb_event_store.h"

#include <chrono>
#include <cstdlib>
#include <type_traits>

#include "ledger/blob_store.h"
#include "ledger/deferred_appends.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_env.h"
#include "ledger/ledger_export.h"
#include "ledger/ledger_reader.h"
#include "ledger/ledger_verify.h"
#include "ledger/payload_prefetch.h"
#include "ledger/pipelined_appends.h"
#include "ledger/run_indexes.h"
#include "ledger/summary_index.h"
#include "ledger/write_ops.h"

namespace artana::kernel {
namespace {

using ledger::GroupCommit;
using ledger::LedgerEnv;
using ledger::LedgerReader;
using ledger::RunRecord;
using ledger::WriteOp;

int64_t system_clock_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class LmdbEventStore final : public EventStore {
 public:
  LmdbEventStore(std::unique_ptr<LedgerEnv> env, const LmdbStoreOptions& options)
      : env_(std::move(env)),
        durability_(options.durability),
        config_{options.large_value_bytes, options.lease_ttl_ms * 1000,
                options.clock_us ? options.clock_us : system_clock_us},
        commits_(*env_, options.durability) {}
  ~LmdbEventStore() override { flush(); }

  Result<RunInfo> create_run(const RunHeader& header) override {
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

  Result<RunInfo> run_info(const RunId& run) override { return head(run); }

  Result<AppendResult> append(AppendRequest request) override {
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

  void flush() override {
    if (!deferred_.empty()) submit({});
  }

  Result<AppendResult> append_pipelined(AppendRequest request,
                                        std::function<void(const Status&)> on_committed) override {
    // No sync to wait for, or an operator's append (it neither takes nor keeps the lease):
    // committed here.
    if (durability_ == Durability::kNone || request.outside_owner)
      return EventStore::append_pipelined(std::move(request), std::move(on_committed));
    ARTANA_RETURN_IF_ERROR(deferred_.take_failure(request.run_id));
    flush();  // a run's held events commit before what it writes next
    return pipelined_.issue(std::move(request), std::move(on_committed));
  }

  void commit_queued() override { commits_.commit_queued_here(); }

  void renew_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                             std::function<void(const Status&)> on_done) override {
    if (durability_ == Durability::kNone)
      return EventStore::renew_lease_pipelined(run, lease_epoch, std::move(on_done));
    auto op = std::make_unique<WriteOp>();
    op->apply = [this, run, lease_epoch](ledger::WriteContext& ctx) {
      return ledger::apply_renew_lease(ctx, config_, run, lease_epoch);
    };
    pipelined_.issue_op(run, std::move(op), std::move(on_done));
  }

  void release_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                               std::function<void(const Status&)> on_done) override {
    if (durability_ == Durability::kNone)
      return EventStore::release_lease_pipelined(run, lease_epoch, std::move(on_done));
    auto op = std::make_unique<WriteOp>();
    op->apply = [run, lease_epoch](ledger::WriteContext& ctx) {
      return ledger::apply_release_lease(ctx, run, lease_epoch);
    };
    pipelined_.issue_op(run, std::move(op), std::move(on_done));
  }

  void append_async(AppendRequest request,
                    std::function<void(Result<AppendResult>)> on_done) override {
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

  Result<std::vector<Event>> read(const RunId& run, uint64_t from_seq, size_t limit) override {
    return read_run(
        run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::vector<Event>> {
          std::vector<Event> events;
          if (limit == 0) return events;
          ARTANA_RETURN_IF_ERROR(
              reader.for_each_event(record, from_seq, [&](Event&& e) -> Result<bool> {
                events.push_back(std::move(e));
                return events.size() < limit;
              }));
          return events;
        });
  }

  // What is committed so far, without waiting for the run's pipelined appends: a status
  // an application asks for every frame must not wait for a sync.
  Result<RunInfo> head(const RunId& run) override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
    return ledger::to_run_info(record);
  }

  Result<Event> read_event(const RunId& run, uint64_t seq) override {
    return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<Event> {
      if (seq == 0 || seq > record.head_seq) {
        return Status::not_found("run '{}' has no seq {} (its head is seq {})", run.str(), seq,
                                 record.head_seq);
      }
      return reader.event(record, seq);
    });
  }

  Result<std::vector<Event>> read_payloads(const RunId& run, const std::vector<uint64_t>& seqs,
                                           size_t max_bytes) override {
    flush();
    return read_batch<Event>(
        run, seqs, max_bytes,
        [](LedgerReader& reader, const RunRecord& record, uint64_t seq, size_t* stored) {
          return reader.event(record, seq, /*expand=*/true,
                              /*envelope=*/false, stored);
        });
  }

  Result<std::vector<PayloadText>> read_payload_texts(const RunId& run,
                                                      const std::vector<uint64_t>& seqs,
                                                      size_t max_bytes) override {
    flush();
    pipelined_.wait_for(run);
    if (auto prefetched = prefetch_.take(run, seqs, max_bytes)) return std::move(*prefetched);
    return read_texts_here(run, seqs, max_bytes);
  }

  void prefetch_payload_texts(const RunId& run, std::vector<uint64_t> seqs,
                              size_t max_bytes) override {
    prefetch_.start(run, std::move(seqs), max_bytes);
  }

  Result<std::vector<PayloadText>> read_texts_here(const RunId& run,
                                                   const std::vector<uint64_t>& seqs,
                                                   size_t max_bytes) {
    return read_batch<PayloadText>(
        run, seqs, max_bytes,
        [](LedgerReader& reader, const RunRecord& record, uint64_t seq, size_t* stored) {
          return reader.payload_text(record, seq, stored);
        });
  }

  // The events at `seqs` from one snapshot, each read by `read_one`, until their stored bytes
  // exceed `max_bytes` or one cannot be read (read_payloads says why).
  template <typename T, typename ReadOne>
  Result<std::vector<T>> read_batch(const RunId& run, const std::vector<uint64_t>& seqs,
                                    size_t max_bytes, ReadOne read_one) {
    pipelined_.wait_for(run);
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
    std::vector<T> out;
    out.reserve(seqs.size());
    size_t bytes = 0;
    for (uint64_t seq : seqs) {
      if (seq == 0 || seq > record.head_seq) {
        return Status::not_found("run '{}' has no seq {} (its head is seq {})", run.str(), seq,
                                 record.head_seq);
      }
      // The reader sizes each payload as it reads it (a walk of every payload to count its
      // bytes cost as much as parsing it).
      size_t stored = 0;
      Result<T> one = read_one(reader, record, seq, &stored);
      if (!one.ok()) {
        // A bad event after the first ends the batch before it: its error is reported when
        // its own step asks for it, not at the first step of its batch.
        if (!out.empty()) break;
        return one.status();
      }
      out.push_back(std::move(one).value());
      bytes += stored;
      if (bytes > max_bytes) break;
    }
    return out;
  }

  Result<RunIndex> run_index(const RunId& run, const StepVisitor& on_step) override {
    return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<RunIndex> {
      RunIndex index;
      ARTANA_ASSIGN_OR_RETURN(index.info, ledger::to_run_info(record));
      ARTANA_RETURN_IF_ERROR(ledger::for_each_step_record(reader, record.run_number, on_step));
      ARTANA_RETURN_IF_ERROR(
          ledger::for_each_latest(reader, record.run_number, [&](std::string&& name, uint64_t seq) {
            index.latest.emplace_back(std::move(name), seq);
            return Status();
          }));
      return index;
    });
  }

  Result<std::optional<Event>> find_terminal(const RunId& run, std::string_view step_key) override {
    return read_run(
        run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::optional<Event>> {
          ARTANA_ASSIGN_OR_RETURN(std::optional<StepIndexRecord> step,
                                  ledger::read_step_record(reader, record.run_number, step_key));
          if (!step || step->terminal_seq == 0) return std::optional<Event>();
          ARTANA_ASSIGN_OR_RETURN(Event e, reader.event(record, step->terminal_seq));
          return std::optional<Event>(std::move(e));
        });
  }

  Result<std::optional<Event>> latest_summary(const RunId& run, std::string_view kind) override {
    return read_run(
        run, [&](LedgerReader& reader, const RunRecord& record) -> Result<std::optional<Event>> {
          ARTANA_ASSIGN_OR_RETURN(
              std::optional<uint64_t> seq,
              reader.indexed_seq(env_->dbi().latest, record.run_number, summary_index_name(kind)));
          if (!seq) return std::optional<Event>();
          ARTANA_ASSIGN_OR_RETURN(Event e, reader.event(record, *seq));
          return std::optional<Event>(std::move(e));
        });
  }

  Result<std::vector<KeyedSummary>> latest_keyed_summaries(const RunId& run, SummaryScope scope,
                                                           std::string_view kind,
                                                           size_t limit) override {
    return read_run(
        run,
        [&](LedgerReader& reader, const RunRecord& record) -> Result<std::vector<KeyedSummary>> {
          return ledger::read_keyed_summaries(reader, record, scope, kind, limit);
        });
  }

  Result<std::optional<std::string>> read_index(std::string_view space,
                                                std::string_view key) override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(std::string k, ledger::aux_index_key(space, key));
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    MDB_val mk = ledger::to_val(k), mv;
    int rc = mdb_get(txn.get(), env_->dbi().aux, &mk, &mv);
    if (rc == MDB_NOTFOUND) return std::optional<std::string>();
    if (rc != 0) return ledger::lmdb_status(rc, "reading an index", env_->data_path());
    return std::optional<std::string>(std::string(ledger::from_val(mv)));
  }

  Result<Totals> totals(const RunId& run) override {
    return read_run(run, [&](LedgerReader& reader, const RunRecord& record) -> Result<Totals> {
      return reader.totals(ledger::run_totals_key(record.run_number));
    });
  }

  Result<Totals> tenant_totals(const TenantId& tenant) override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    return reader.totals(ledger::tenant_totals_key(tenant.str()));
  }

  Result<std::vector<RunInfo>> list_runs(const TenantId& tenant,
                                         std::optional<RunStatus> status) override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    return ledger::read_tenant_runs(reader, tenant.str(), status);
  }

  Result<std::vector<RunInfo>> list_all_runs() override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    std::vector<RunInfo> runs;
    ARTANA_RETURN_IF_ERROR(reader.for_each_run([&](RunRecord&& record) -> Result<bool> {
      ARTANA_ASSIGN_OR_RETURN(RunInfo info, ledger::to_run_info(record));
      runs.push_back(std::move(info));
      return true;
    }));
    return runs;
  }

  Status release_lease(const RunId& run, uint64_t lease_epoch) override {
    WriteOp op;
    op.apply = [&](ledger::WriteContext& ctx) {
      return ledger::apply_release_lease(ctx, run, lease_epoch);
    };
    submit({&op});
    return op.status;
  }

  Status renew_lease(const RunId& run, uint64_t lease_epoch) override {
    WriteOp op;
    op.apply = [&](ledger::WriteContext& ctx) {
      return ledger::apply_renew_lease(ctx, config_, run, lease_epoch);
    };
    submit({&op});
    return op.status;
  }

  int64_t lease_ttl_us() const override { return config_.lease_ttl_us; }

  Status sync() override {
    flush();
    pipelined_.wait_all();
    return env_->sync();
  }

  Result<VerifyReport> verify(std::optional<RunId> run) override {
    flush();
    pipelined_.wait_all();
    return ledger::verify_in_child(*env_, run);
  }

  Status export_jsonl(std::optional<RunId> run,
                      const std::function<Status(std::string_view)>& write,
                      ExportOptions options) override {
    flush();
    pipelined_.wait_all();
    return ledger::export_events(*env_, run, write, options);
  }

  Result<StorageStats> storage_stats() override { return env_->storage_stats(); }
  const std::string& data_dir() const override { return env_->dir(); }
  Durability durability() const override { return durability_; }

  Result<std::string> put_blob(std::string_view bytes) override {
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

  Result<std::optional<std::string>> get_blob(std::string_view sha256_hex) override {
    flush();
    ARTANA_ASSIGN_OR_RETURN(Sha256 key, ledger::parse_blob_hash(sha256_hex));
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    return ledger::read_blob(reader, key);
  }

 private:
  // Calls `body(reader, record)` on one snapshot holding `run`, once the held appends are
  // flushed and its pipelined appends committed (a read sees every append that returned).
  // R: what the caller returns.
  template <typename Body, typename R = std::invoke_result_t<Body, LedgerReader&, const RunRecord&>>
  R read_run(const RunId& run, Body&& body) {
    flush();
    pipelined_.wait_for(run);
    ARTANA_ASSIGN_OR_RETURN(auto txn, env_->begin_read());
    LedgerReader reader(*env_, txn.get());
    ARTANA_ASSIGN_OR_RETURN(RunRecord record, reader.run_by_id(run.str()));
    return body(reader, record);
  }

  // Submits `own` after the held appends, in one transaction (DeferredAppends::commit).
  void submit(const std::vector<WriteOp*>& own) { deferred_.commit(commits_, config_, own); }

  std::unique_ptr<LedgerEnv> env_;
  Durability durability_;
  ledger::StoreConfig config_;
  GroupCommit commits_;
  ledger::DeferredAppends deferred_;
  ledger::PipelinedAppends pipelined_{*env_, config_, commits_};
  // Declared after env_: its thread stops before the environment closes.
  ledger::PayloadPrefetch prefetch_{
      [this](const RunId& run, const std::vector<uint64_t>& seqs, size_t max_bytes) {
        return read_texts_here(run, seqs, max_bytes);
      }};
};

}  // namespace

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
  ARTANA_ASSIGN_OR_RETURN(std::unique_ptr<LedgerEnv> env, LedgerEnv::open(dir, options));
  return std::unique_ptr<EventStore>(new LmdbEventStore(std::move(env), options));
}

}  // namespace artana::kernel
