#include "ledger/deferred_appends.h"

#include <utility>

#include "kernel_log.h"

namespace artana::kernel::ledger {

bool DeferredAppends::holdable(const AppendRequest& request) {
  return request.deferrable && request.expected_head_seq.has_value() && request.lease_epoch != 0 &&
         !request.outside_owner && !request.create && request.blobs.empty() &&
         !request.new_status && !request.release_lease && !request.barrier && !request.in_txn &&
         !request.drafts.empty();
}

AppendResult DeferredAppends::predicted(Op& op) {
  return predicted_append(op.request, op.prepared, *op.request.expected_head_seq,
                          op.request.lease_epoch);
}

bool DeferredAppends::add(std::unique_ptr<Op> op) {
  std::lock_guard<std::mutex> lock(mu_);
  held_bytes_ += op->prepared.bytes();
  held_.push_back(std::move(op));
  held_count_.store(held_.size(), std::memory_order_release);
  return held_.size() >= kMaxHeldOps || held_bytes_ >= kMaxHeldBytes;
}

namespace {

// Whether `next` continues `last`: the same run and lease, at the head `last` leaves.
bool continues(const AppendRequest& last, const AppendRequest& next) {
  return last.run_id == next.run_id && last.lease_epoch == next.lease_epoch &&
         *last.expected_head_seq + last.drafts.size() == *next.expected_head_seq;
}

// Moves `from`'s events (and the large values they refer to) after `into`'s.
void merge_into(DeferredAppends::Op& into, DeferredAppends::Op& from) {
  for (EventDraft& draft : from.request.drafts) into.request.drafts.push_back(std::move(draft));
  for (PreparedEvent& event : from.prepared.events) {
    into.prepared.events.push_back(std::move(event));
  }
  // Each large value once, as prepare_append lists them (two ops may share one).
  for (PreparedBlob& blob : from.prepared.blobs) {
    bool listed = false;
    for (const PreparedBlob& have : into.prepared.blobs) listed = listed || have.key == blob.key;
    if (!listed) into.prepared.blobs.push_back(std::move(blob));
  }
}

}  // namespace

std::vector<std::unique_ptr<DeferredAppends::Op>> DeferredAppends::take() {
  std::vector<std::unique_ptr<Op>> held;
  {
    std::lock_guard<std::mutex> lock(mu_);
    held = std::move(held_);
    held_.clear();
    held_bytes_ = 0;
    held_count_.store(0, std::memory_order_release);
  }
  std::vector<std::unique_ptr<Op>> out;
  out.reserve(held.size());
  for (size_t i = 0; i < held.size();) {
    // A chain of ops that continue each other: its events counted first, so the merge moves
    // each draft and prepared event once.
    size_t end = i + 1, events = held[i]->request.drafts.size();
    while (end < held.size() && continues(held[end - 1]->request, held[end]->request)) {
      events += held[end++]->request.drafts.size();
    }
    std::unique_ptr<Op>& first = held[i];
    first->request.drafts.reserve(events);
    first->prepared.events.reserve(events);
    for (size_t k = i + 1; k < end; ++k) merge_into(*first, *held[k]);
    out.push_back(std::move(first));
    i = end;
  }
  return out;
}

void DeferredAppends::commit(GroupCommit& commits, const StoreConfig& config,
                             const std::vector<WriteOp*>& own) {
  if (empty()) {
    if (!own.empty()) commits.submit(own);
    return;
  }
  std::lock_guard<std::mutex> lock(commit_mu_);
  std::vector<std::unique_ptr<Op>> held = take();
  std::vector<WriteOp> held_ops(held.size());
  std::vector<WriteOp*> batch;
  batch.reserve(held.size() + own.size());
  for (size_t i = 0; i < held.size(); ++i) {
    Op* op = held[i].get();
    held_ops[i].bytes_hint = op->prepared.bytes();
    held_ops[i].apply = [&config, op](WriteContext& ctx) {
      return apply_append(ctx, config, op->request, op->prepared, op->committed);
    };
    batch.push_back(&held_ops[i]);
  }
  batch.insert(batch.end(), own.begin(), own.end());
  if (!batch.empty()) commits.submit(batch);
  for (size_t i = 0; i < held.size(); ++i) {
    if (held_ops[i].status.ok()) continue;
    kernel_log().warn("a held append to run {} failed at its commit: {}",
                      held[i]->request.run_id.str(), held_ops[i].status.message());
    failed(held[i]->request.run_id, held_ops[i].status);
  }
}

void DeferredAppends::failed(const RunId& run, Status status) {
  std::lock_guard<std::mutex> lock(mu_);
  failures_.emplace(run.str(), std::move(status));  // the first failure is the cause
}

Status DeferredAppends::take_failure(const RunId& run) {
  std::lock_guard<std::mutex> lock(mu_);
  if (failures_.empty()) return Status();
  auto it = failures_.find(run.str());
  if (it == failures_.end()) return Status();
  Status status = std::move(it->second);
  failures_.erase(it);
  return status;
}

}  // namespace artana::kernel::ledger
