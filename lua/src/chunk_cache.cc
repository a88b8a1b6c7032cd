#include "chunk_cache.h"

#include <mutex>
#include <unordered_map>

namespace artana::lua::detail {
namespace {

struct ChunkCache {
  std::mutex mu;
  std::unordered_map<std::string, std::shared_ptr<const std::string>> chunks;
  size_t bytes = 0;
};

ChunkCache& cache() {
  static auto* chunks = new ChunkCache();  // never destroyed: states may load during exit
  return *chunks;
}

std::string key_of(std::string_view chunkname, std::string_view source) {
  std::string key;
  key.reserve(chunkname.size() + 1 + source.size());
  key.append(chunkname).push_back('\0');  // a name holds no NUL: the split is unambiguous
  key.append(source);
  return key;
}

}  // namespace

std::shared_ptr<const std::string> cached_chunk(std::string_view chunkname,
                                                std::string_view source) {
  const std::string key = key_of(chunkname, source);
  ChunkCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.chunks.find(key);
  return it == c.chunks.end() ? nullptr : it->second;
}

void cache_chunk(std::string_view chunkname, std::string_view source, std::string bytecode) {
  std::string key = key_of(chunkname, source);
  const size_t bytes = key.size() + bytecode.size();
  if (bytes > kMaxChunkCacheBytes / 4) return;  // a huge source is not worth evicting for
  auto compiled = std::make_shared<const std::string>(std::move(bytecode));
  ChunkCache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  if (c.bytes + bytes > kMaxChunkCacheBytes) {
    c.chunks.clear();
    c.bytes = 0;
  }
  if (c.chunks.emplace(std::move(key), std::move(compiled)).second) c.bytes += bytes;
}

}  // namespace artana::lua::detail
