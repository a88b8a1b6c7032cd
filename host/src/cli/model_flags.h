// The model endpoints of `run`, `resume` and `worker`: --model-endpoint and --api-key-env
// (the default endpoint), --models FILE (a sandboxed Lua file returning a table of
// entries), --stream.
#pragma once

#include "artana/host/model_endpoints.h"
#include "run_flags.h"

namespace artana::host {

// The endpoints the flags configure (none: live model steps need Lua ports). kInvalidArgument
// naming the flag, or the file and the entry and field.
Result<ModelEndpoints> endpoints_from_flags(const RunFlags& flags);

}  // namespace artana::host
