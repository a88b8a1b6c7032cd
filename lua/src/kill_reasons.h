// Why an execution was killed: string literals compared by address (Execution::interrupted).
// Inline variables, so every translation unit sees the one object.
#pragma once

namespace artana::lua::detail {

inline constexpr char kInstructionLimit[] = "instruction limit";
inline constexpr char kMemoryLimit[] = "memory limit";
inline constexpr char kInterrupted[] = "interrupted";
inline constexpr char kKilled[] = "killed";

}  // namespace artana::lua::detail
