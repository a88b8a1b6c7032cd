// LmdbEventStore: the EventStore over the LMDB ledger (artana/kernel/lmdb_event_store.h
// opens one). Its writes (lmdb_event_store.cc) go through the group commit, held appends and
// pipelined appends; its reads (lmdb_event_store_reads.cc) each take one snapshot, after the
// held appends are flushed and the run's pipelined appends committed. Internal to the kernel.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "artana/kernel/event_store.h"
#include "artana/kernel/lmdb_event_store.h"
#include "ledger/deferred_appends.h"
#include "ledger/group_commit.h"
#include "ledger/ledger_env.h"
#include "ledger/ledger_reader.h"
#include "ledger/payload_prefetch.h"
#include "ledger/pipelined_appends.h"
#include "ledger/write_ops.h"

namespace artana::kernel::ledger {

class LmdbEventStore final : public EventStore {
 public:
  LmdbEventStore(std::unique_ptr<LedgerEnv> env, const LmdbStoreOptions& options);
  ~LmdbEventStore() override { flush(); }

  Result<RunInfo> create_run(const RunHeader& header) override;
  Result<RunInfo> run_info(const RunId& run) override { return head(run); }

  Result<AppendResult> append(AppendRequest request) override;
  void flush() override;
  Result<AppendResult> append_pipelined(AppendRequest request,
                                        std::function<void(const Status&)> on_committed) override;
  void commit_queued() override { commits_.commit_queued_here(); }

  void renew_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                             std::function<void(const Status&)> on_done) override;
  void release_lease_pipelined(const RunId& run, uint64_t lease_epoch,
                               std::function<void(const Status&)> on_done) override;
  void append_async(AppendRequest request,
                    std::function<void(Result<AppendResult>)> on_done) override;
  Result<std::vector<Event>> read(const RunId& run, uint64_t from_seq, size_t limit) override;

  // What is committed so far, without waiting for the run's pipelined appends: a status
  // an application asks for every frame must not wait for a sync.
  Result<RunInfo> head(const RunId& run) override;
  Result<Event> read_event(const RunId& run, uint64_t seq) override;
  Result<std::vector<Event>> read_payloads(const RunId& run, const std::vector<uint64_t>& seqs,
                                           size_t max_bytes) override;
  Result<std::vector<PayloadText>> read_payload_texts(const RunId& run,
                                                      const std::vector<uint64_t>& seqs,
                                                      size_t max_bytes) override;
  void prefetch_payload_texts(const RunId& run, std::vector<uint64_t> seqs,
                              size_t max_bytes) override;
  Result<std::vector<PayloadText>> read_texts_here(const RunId& run,
                                                   const std::vector<uint64_t>& seqs,
                                                   size_t max_bytes);

  // The events at `seqs` from one snapshot, each read by `read_one`, until their stored bytes
  // exceed `max_bytes` or one cannot be read (read_payloads says why).
  template <typename T, typename ReadOne>
  Result<std::vector<T>> read_batch(const RunId& run, const std::vector<uint64_t>& seqs,
                                    size_t max_bytes, ReadOne read_one);
  Result<RunIndex> run_index(const RunId& run, const StepVisitor& on_step) override;
  Result<std::optional<Event>> find_terminal(const RunId& run, std::string_view step_key) override;
  Result<std::optional<Event>> latest_summary(const RunId& run, std::string_view kind) override;
  Result<std::vector<KeyedSummary>> latest_keyed_summaries(const RunId& run, SummaryScope scope,
                                                           std::string_view kind,
                                                           size_t limit) override;
  Result<std::optional<std::string>> read_index(std::string_view space,
                                                std::string_view key) override;
  Result<Totals> totals(const RunId& run) override;
  Result<Totals> tenant_totals(const TenantId& tenant) override;
  Result<std::vector<RunInfo>> list_runs(const TenantId& tenant,
                                         std::optional<RunStatus> status) override;
  Result<std::vector<RunInfo>> list_all_runs() override;
  Status release_lease(const RunId& run, uint64_t lease_epoch) override;
  Status renew_lease(const RunId& run, uint64_t lease_epoch) override;
  int64_t lease_ttl_us() const override { return config_.lease_ttl_us; }

  Status sync() override;
  Result<VerifyReport> verify(std::optional<RunId> run) override;
  Status export_jsonl(std::optional<RunId> run,
                      const std::function<Status(std::string_view)>& write,
                      ExportOptions options) override;
  Result<StorageStats> storage_stats() override { return env_->storage_stats(); }
  const std::string& data_dir() const override { return env_->dir(); }
  Durability durability() const override { return durability_; }

  Result<std::string> put_blob(std::string_view bytes) override;
  Result<std::optional<std::string>> get_blob(std::string_view sha256_hex) override;

 private:
  // Calls `body(reader, record)` on one snapshot holding `run`, once the held appends are
  // flushed and its pipelined appends committed (a read sees every append that returned).
  // R: what the caller returns.
  template <typename Body, typename R = std::invoke_result_t<Body, LedgerReader&, const RunRecord&>>
  R read_run(const RunId& run, Body&& body);

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

}  // namespace artana::kernel::ledger
