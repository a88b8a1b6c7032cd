// A path a script names, resolved inside a root directory (the workspace, or the script's
// folder) — or refused: `..` that climbs out, an absolute path elsewhere, a symlink that
// leads out (checked on the real path of what exists).
#pragma once

#include <string>

#include "artana/kernel/status.h"

namespace artana::host {

// The absolute path of `path` (relative to `root`, or absolute inside it). kSandboxViolation
// naming `field` and the path when it leaves the root; kInvalidArgument for an empty or
// NUL-holding path. What does not exist yet is judged by its nearest existing parent.
Result<std::string> resolve_inside(const std::string& root, const std::string& path,
                                   std::string_view field);

}  // namespace artana::host
