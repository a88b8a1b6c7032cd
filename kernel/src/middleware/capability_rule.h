// The one capability rule, shared by the capability guard (a tool call) and the kernel (the
// tools a model is offered).
#pragma once

#include <memory>
#include <string_view>

#include "artana/kernel/kernel_types.h"
#include "artana/kernel/middleware.h"

namespace artana::kernel {

struct CapabilityOptions {
  // Judge only tenants the operator gave a capability list; a tenant without one may use
  // every tool (the guard a kernel installs by itself).
  bool only_listed = false;
};

std::shared_ptr<Middleware> make_capability_guard(CapabilityOptions options);

// Whether `tenant` may not use what needs `capability` (empty: nothing needed). `required`
// (ToolSpec::capability_required) refuses a tenant without the capability even when it has
// no list.
bool capability_refused(const TenantContext& tenant, std::string_view capability,
                        CapabilityOptions options, bool required = false);

}  // namespace artana::kernel
