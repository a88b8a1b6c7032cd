// The compiled form of the script and module sources this process has loaded, so the next
// state that loads the same source (every run of a script, each execution again after a
// reload or a crash, each require of a module) undumps its bytecode instead of parsing it
// again (parsing was ~15 % of a hot reload of 1 000 runs). Keyed by the chunk's name and its
// exact text: the bytecode keeps its debug information, so errors and tracebacks name the
// same lines. The bytecode is only ever ours (lua_dump of a chunk compiled from text here);
// a script handing in bytecode is still refused (chunk_load.h). Bounded: past kMaxBytes the
// cache starts over. Thread-safe.
#pragma once

#include <memory>
#include <string>
#include <string_view>

namespace artana::lua::detail {

constexpr size_t kMaxChunkCacheBytes = 32u << 20;

// The bytecode of `source` compiled as `chunkname`, or null.
std::shared_ptr<const std::string> cached_chunk(std::string_view chunkname,
                                                std::string_view source);
void cache_chunk(std::string_view chunkname, std::string_view source, std::string bytecode);

}  // namespace artana::lua::detail
