// The tenant facts middleware asked to keep (middleware.h TenantFacts), in the ledger's aux
// index: written in the append of the step that taught them, read when a step is judged.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "artana/kernel/event_store.h"
#include "artana/kernel/middleware.h"

namespace artana::kernel {

inline constexpr std::string_view kTenantFactsSpace = "tenant_facts";

inline std::string tenant_fact_key(const TenantId& tenant, std::string_view fact) {
  std::string key = tenant.str();
  key += '\0';
  key.append(fact);
  return key;
}

class LedgerTenantFacts final : public TenantFacts {
 public:
  LedgerTenantFacts(EventStore& store, const TenantId& tenant) : store_(store), tenant_(tenant) {}
  // A fact that cannot be read is not known: the judgement then sees what it would without it.
  bool known(std::string_view fact) const override {
    auto found = store_.read_index(kTenantFactsSpace, tenant_fact_key(tenant_, fact));
    return found.ok() && found->has_value();
  }

 private:
  EventStore& store_;
  const TenantId& tenant_;
};

// The AppendRequest::in_txn that keeps `facts` (learned by a step's rewrite_result) with the
// step's own append: no process forgets them. Empty when there are none. Copied: a
// pipelined append commits after the step returns.
inline std::function<Status(AppendTxn&)> keep_tenant_facts(const TenantId& tenant,
                                                           const std::vector<std::string>& facts) {
  if (facts.empty()) return {};
  return [facts, tenant](AppendTxn& txn) -> Status {
    for (const std::string& fact : facts) {
      ARTANA_RETURN_IF_ERROR(txn.put_index(kTenantFactsSpace, tenant_fact_key(tenant, fact), "1"));
    }
    return Status();
  };
}

}  // namespace artana::kernel
