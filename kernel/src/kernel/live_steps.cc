// Kernel::LiveSteps: the live steps by ticket and by run (step_machine.h).
#include <algorithm>

#include "kernel/step_machine.h"

namespace artana::kernel {

uint64_t Kernel::LiveSteps::add(std::unique_ptr<LiveEntry> entry) {
  const uint64_t ticket = next_ticket_++;
  by_run_[entry->state->run_id.str()].push_back(ticket);
  entries_.emplace(ticket, std::move(entry));
  return ticket;
}

Kernel::LiveEntry* Kernel::LiveSteps::find(uint64_t ticket) const {
  auto it = entries_.find(ticket);
  return it == entries_.end() ? nullptr : it->second.get();
}

std::unique_ptr<Kernel::LiveEntry> Kernel::LiveSteps::take(uint64_t ticket) {
  auto it = entries_.find(ticket);
  if (it == entries_.end()) return nullptr;
  std::unique_ptr<LiveEntry> entry = std::move(it->second);
  entries_.erase(it);
  auto run = by_run_.find(entry->state->run_id.str());
  if (run != by_run_.end()) {
    std::erase(run->second, ticket);
    if (run->second.empty()) by_run_.erase(run);
  }
  return entry;
}

const std::vector<uint64_t>& Kernel::LiveSteps::of_run(const RunId& run) const {
  static const std::vector<uint64_t> kNone;
  auto it = by_run_.find(run.str());
  return it == by_run_.end() ? kNone : it->second;
}

}  // namespace artana::kernel
