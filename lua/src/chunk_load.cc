#include "chunk_load.h"

#include "chunk_cache.h"

#include "artana/lua/chunk_check.h"

#include <lua.hpp>

#include <cstring>

namespace artana::lua::detail {
namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Hands lua_load the text in up to two pieces: "\n" for a skipped first line (so every
// later line keeps its number), then the rest.
struct Pieces {
  std::string_view parts[2];
  int next = 0;
};

const char* read_piece(lua_State*, void* data, size_t* size) {
  auto* pieces = static_cast<Pieces*>(data);
  while (pieces->next < 2) {
    std::string_view part = pieces->parts[pieces->next++];
    if (part.empty()) continue;
    *size = part.size();
    return part.data();
  }
  *size = 0;
  return nullptr;
}

int append_bytes(lua_State*, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}

}  // namespace

int load_text_chunk(lua_State* L, std::string_view source, const char* chunkname) {
  if (auto compiled = cached_chunk(chunkname, source)) {
    // Ours (dumped below from this very text): loaded as bytecode, which only this may do.
    return luaL_loadbufferx(L, compiled->data(), compiled->size(), chunkname, "b");
  }
  const std::string_view text = source;
  if (source.substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    source.remove_prefix(kByteOrderMark.size());
  }
  if (source.size() >= 4 && std::memcmp(source.data(), LUA_SIGNATURE, 4) == 0) {
    const char* name = chunkname[0] == '@' || chunkname[0] == '=' ? chunkname + 1 : chunkname;
    lua_pushfstring(L, "%s: a precompiled (binary) chunk is refused; pass Lua source text", name);
    return LUA_ERRSYNTAX;
  }
  Pieces pieces;
  if (!source.empty() && source[0] == '#') {
    const size_t end = source.find('\n');
    pieces.parts[0] = "\n";
    pieces.parts[1] = end == std::string_view::npos ? std::string_view() : source.substr(end + 1);
  } else {
    pieces.parts[0] = source;
  }
  const int status = lua_load(L, read_piece, &pieces, chunkname, "t");
  if (status != LUA_OK) return status;
  std::string bytecode;
  if (lua_dump(L, append_bytes, &bytecode, 0) == 0)
    cache_chunk(chunkname, text, std::move(bytecode));
  return LUA_OK;
}

}  // namespace artana::lua::detail

namespace artana::lua {

Status check_script_syntax(std::string_view source, const std::string& name) {
  // A bare state: compiling needs no library, and nothing of it outlives the check.
  lua_State* L = luaL_newstate();
  if (L == nullptr) return Status::unavailable("out of memory compiling script '{}'", name);
  const std::string chunkname = "=" + name;
  const int rc = detail::load_text_chunk(L, source, chunkname.c_str());
  Status status;
  if (rc != LUA_OK) {
    size_t n = 0;
    const char* message = lua_tolstring(L, -1, &n);
    status = Status::invalid_argument("{}", message != nullptr ? std::string_view(message, n)
                                                               : std::string_view("no message"))
                 .with_kind(ErrorKind::kScriptError);
  }
  lua_close(L);
  return status;
}

}  // namespace artana::lua
