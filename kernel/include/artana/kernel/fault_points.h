// Fault injection for crash-recovery tests: `ARTANA_CRASH_AT=<point>:<n>` in the
// environment makes the process SIGKILL itself the n-th time (1-based) it crosses the
// named point. Points:
//   syscall        a script's syscall reaches the host (every run:* call)
//   append.before  the kernel is about to append to the ledger
//   append.after   an append committed, before the kernel looks at the result
//   tool.start     a live tool's request is committed; its fn has not run yet
//   tool.end       a live tool's fn returned; its completion is not recorded yet
// The tool points are a script's own tools' (artana.tool, a Lua fn); the host's built-ins
// (run:exec, run:http, the file tools) cross none: a kill cuts them at the append points.
// Without the variable a crossing costs one relaxed load. Built in unless the CMake option
// ARTANA_FAULT_INJECTION is OFF (then fault_point() compiles to nothing).
// Thread-safe.
#pragma once

#include <string_view>

namespace artana::kernel {

#ifdef ARTANA_FAULT_INJECTION
void fault_point(std::string_view point);
#else
inline void fault_point(std::string_view) {}
#endif

}  // namespace artana::kernel
