// The tenant facts middleware asked to keep (middleware.h TenantFacts), in the ledger's aux
// index: written in the append of the step that taught them, read when a step is judged.
#pragma once

#include <string>
#include <string_view>

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

}  // namespace artana::kernel
