// Error tables at the Lua boundary (lua_error.h). Functions that may raise (push_error,
// raise_error, traceback_handler, the __tostring metamethod) hold no C++ object with a
// destructor; read_error and is_error_table use only API calls marked `-` in the manual.
#include "artana/lua/lua_error.h"

#include <lua.hpp>

#include <cstdio>
#include <cstring>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/lua_state.h"

namespace artana::lua {
namespace {

// Registry key of the shared error metatable: the address is unique to this library.
const char kErrorMetatableKey = 0;

constexpr std::string_view kEllipsis = "…";

// Copies `src` into `dst` NUL-terminated, made readable (kernel::readable_text: a message is
// recorded as JSON, and `dst` is read as a C string). When it does not fit, cuts at a character and
// ends with "…" so a reader can tell it was shortened.
template <size_t N>
void copy_clipped(char (&dst)[N], std::string_view src) {
  size_t n = 0;
  for (size_t i = 0; i < src.size();) {
    const std::string_view piece = kernel::next_readable_piece(src, &i);
    // Room for this piece, and for "…" unless it is the last.
    const size_t reserve = i < src.size() ? kEllipsis.size() : 0;
    if (n + piece.size() + reserve > N - 1) {
      std::memcpy(dst + n, kEllipsis.data(), kEllipsis.size());
      n += kEllipsis.size();
      break;
    }
    std::memcpy(dst + n, piece.data(), piece.size());
    n += piece.size();
  }
  dst[n] = '\0';
}

// __tostring: "kind: message (step 'key')", reading the fields raw.   [-0, +1, m]
int l_error_tostring(lua_State* L) {
  lua_getfield(L, 1, "kind");  // the metatable has no __index: a raw read
  lua_getfield(L, 1, "message");
  lua_getfield(L, 1, "step_key");
  const char* kind = lua_type(L, 2) == LUA_TSTRING ? lua_tostring(L, 2) : "error";
  const char* message = lua_type(L, 3) == LUA_TSTRING ? lua_tostring(L, 3) : "";
  if (lua_type(L, 4) == LUA_TSTRING && lua_rawlen(L, 4) > 0) {
    lua_pushfstring(L, "%s: %s (step '%s')", kind, message, lua_tostring(L, 4));
  } else {
    lua_pushfstring(L, "%s: %s", kind, message);
  }
  return 1;
}

// Pushes the shared metatable, creating it on first use.   [-0, +1, m]
void push_error_metatable(lua_State* L) {
  if (lua_rawgetp(L, LUA_REGISTRYINDEX, &kErrorMetatableKey) != LUA_TNIL) return;
  lua_pop(L, 1);  // drop the nil
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_error_tostring);
  lua_setfield(L, -2, "__tostring");
  lua_pushliteral(L, "artana.error");
  lua_setfield(L, -2, "__name");
  // Protected: one script cannot rewrite __tostring for every error in the state.
  lua_pushliteral(L, "artana.error");
  lua_setfield(L, -2, "__metatable");
  lua_pushvalue(L, -1);
  lua_rawsetp(L, LUA_REGISTRYINDEX, &kErrorMetatableKey);
}

// Pushes "file:line" of the first Lua function at `level` or above (C functions have no
// line). Returns false, pushing nothing, when there is none.   [-0, +(0|1), m]
// The frame an error is placed at, from `level` up: the first line of the script's own code.
// The host's prelude never counts; the stdlib's modules (chunks "=artana/…") count only when
// no script line is on the stack (a harness's entry): a constructor refusing a field names
// the script line that called it, not the stdlib's.
bool script_frame(lua_State* L, int level, lua_Debug& out) {
  lua_Debug ar;
  bool have_stdlib = false;
  for (; lua_getstack(L, level, &ar) != 0; ++level) {
    lua_getinfo(L, "Sl", &ar);
    if (ar.currentline <= 0 || std::strcmp(ar.source, kHostChunkName) == 0) continue;
    if (std::strncmp(ar.source, "=artana/", 8) != 0) {
      out = ar;
      return true;
    }
    if (!have_stdlib) out = ar;
    have_stdlib = true;
  }
  return have_stdlib;
}

bool push_where(lua_State* L, int level) {
  lua_Debug ar;
  if (!script_frame(L, level, ar)) return false;
  lua_pushfstring(L, "%s:%d", ar.short_src, ar.currentline);
  return true;
}

// Sets t[field] = the top value, popping it, unless t already has a non-nil `field`.
// Raw access: the table may carry a foreign metatable, and a message handler must not run
// script code. REQUIRES: `table` is an absolute index.
void set_if_missing(lua_State* L, int table, const char* field) {
  lua_pushstring(L, field);
  if (lua_rawget(L, table) == LUA_TNIL) {
    lua_pop(L, 1);  // drop the nil
    lua_pushstring(L, field);
    lua_insert(L, -2);  // key below the value
    lua_rawset(L, table);
  } else {
    lua_pop(L, 2);  // drop the existing field and the new value
  }
}

// Adds where (from `level`) and traceback to the error table at `table` when missing:
// a rethrown error keeps the place it was first raised.
void add_location(lua_State* L, int table, int level) {
  if (push_where(L, level)) set_if_missing(L, table, "where");
  luaL_traceback(L, L, nullptr, level);
  set_if_missing(L, table, "traceback");
}

// A table with string `kind` and `message` (read raw): a stdlib module's
// error({kind = ..., message = ...}), or another part of the host's error object.
bool is_error_shaped(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE) return false;
  lua_pushliteral(L, "kind");
  const bool kind = lua_rawget(L, index) == LUA_TSTRING;
  lua_pushliteral(L, "message");
  const bool message = lua_rawget(L, index) == LUA_TSTRING;
  lua_pop(L, 2);  // drop both fields
  return kind && message;
}

}  // namespace

BoundaryError BoundaryError::from(const Status& status, std::string_view step_key) {
  // Never a raw internal code: visible_kind maps disk_full, fenced, … to the table's kinds.
  return make(error_kind_name(visible_kind(status)), visible_message(status),
              status.step_key().empty() ? step_key : status.step_key());
}

BoundaryError BoundaryError::make(std::string_view kind, std::string_view message,
                                  std::string_view step_key) {
  BoundaryError e;
  copy_clipped(e.kind, kind);
  copy_clipped(e.message, message);
  copy_clipped(e.step_key, step_key);
  return e;
}

void push_kind(lua_State* L, ErrorKind kind) {
  const std::string_view name = error_kind_name(kind);
  lua_pushlstring(L, name.data(), name.size());
}

void push_error(lua_State* L, const BoundaryError& e) {
  if (LuaState* state = LuaState::from(L); state != nullptr && !e.relayed) {
    if (std::optional<ErrorKind> kind = parse_error_kind(e.kind)) state->note_raised(*kind);
  }
  luaL_checkstack(L, 3, "raising an error");
  lua_createtable(L, 0, 6);
  lua_pushstring(L, e.kind);
  lua_setfield(L, -2, "kind");
  lua_pushstring(L, e.message);
  lua_setfield(L, -2, "message");
  if (e.step_key[0] != '\0') {
    lua_pushstring(L, e.step_key);
    lua_setfield(L, -2, "step_key");
  }
  if (e.where[0] != '\0') {
    lua_pushstring(L, e.where);
    lua_setfield(L, -2, "where");
  }
  push_error_metatable(L);
  lua_setmetatable(L, -2);
}

bool write_where(lua_State* L, int level, char* out, size_t size) {
  lua_Debug ar;
  if (!script_frame(L, level, ar)) return false;
  std::snprintf(out, size, "%s:%d", ar.short_src, ar.currentline);
  return true;
}

int raise_error(lua_State* L, const BoundaryError& e) {
  push_error(L, e);
  // Level 1 is whoever called the C function raising this; skip C frames to a Lua line.
  if (e.where[0] == '\0' && push_where(L, 1)) lua_setfield(L, -2, "where");
  return lua_error(L);
}

int traceback_handler(lua_State* L) {
  // Level 1, seen from a message handler, is the function that raised the error.
  if (is_error_table(L, 1)) {
    add_location(L, 1, 1);
    lua_settop(L, 1);
    return 1;
  }
  if (is_error_shaped(L, 1)) {
    // Adopt a plain table; one with a metatable of its own is someone's object (the
    // sandbox's kill error is compared by identity), so it only gains the location.
    if (lua_getmetatable(L, 1)) {
      lua_pop(L, 1);  // drop its metatable
    } else {
      push_error_metatable(L);
      lua_setmetatable(L, 1);
    }
    add_location(L, 1, 1);
    lua_settop(L, 1);
    return 1;
  }
  lua_createtable(L, 0, 4);
  const int table = lua_gettop(L);
  push_kind(L, ErrorKind::kScriptError);
  lua_setfield(L, table, "kind");
  if (lua_type(L, 1) == LUA_TSTRING || lua_type(L, 1) == LUA_TNUMBER) {
    lua_pushvalue(L, 1);
    lua_tostring(L, -1);  // a number becomes its text, in the copy
  } else {
    lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
  }
  lua_setfield(L, table, "message");
  add_location(L, table, 1);
  push_error_metatable(L);
  lua_setmetatable(L, table);
  return 1;
}

bool is_error_table(lua_State* L, int index) {
  const int abs = lua_absindex(L, index);
  if (lua_type(L, abs) != LUA_TTABLE || !lua_getmetatable(L, abs)) return false;
  lua_rawgetp(L, LUA_REGISTRYINDEX, &kErrorMetatableKey);
  const bool ours = lua_rawequal(L, -1, -2) != 0;
  lua_pop(L, 2);  // drop our metatable and the table's
  return ours;
}

BoundaryError read_error(lua_State* L, int index) {
  const int abs = lua_absindex(L, index);
  BoundaryError e;
  switch (lua_type(L, abs)) {
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, abs, &n);  // already a string: no conversion
      return BoundaryError::make(error_kind_name(ErrorKind::kScriptError), {s, n});
    }
    case LUA_TNUMBER:
      // lua_tostring would convert the slot in place (allocating); format it here instead.
      if (lua_isinteger(L, abs)) {
        std::snprintf(e.message, sizeof e.message, "%lld",
                      static_cast<long long>(lua_tointegerx(L, abs, nullptr)));
      } else {
        std::snprintf(e.message, sizeof e.message, "%.14g", lua_tonumberx(L, abs, nullptr));
      }
      copy_clipped(e.kind, error_kind_name(ErrorKind::kScriptError));
      return e;
    case LUA_TTABLE:
      break;
    default:
      std::snprintf(e.message, sizeof e.message, "(error object is a %s value)",
                    lua_typename(L, lua_type(L, abs)));
      copy_clipped(e.kind, error_kind_name(ErrorKind::kScriptError));
      return e;
  }
  // Walk the table with lua_next (raw, no allocation) rather than pushing field names,
  // which would allocate and so could raise outside any protected call.
  if (lua_checkstack(L, 2)) {
    lua_pushnil(L);
    while (lua_next(L, abs) != 0) {
      if (lua_type(L, -2) == LUA_TSTRING && lua_type(L, -1) == LUA_TSTRING) {
        size_t kn = 0, vn = 0;
        const char* k = lua_tolstring(L, -2, &kn);
        const char* v_data = lua_tolstring(L, -1, &vn);
        const std::string_view key(k, kn);
        const std::string_view v(v_data, vn);
        if (key == "kind") copy_clipped(e.kind, v);
        if (key == "message") copy_clipped(e.message, v);
        if (key == "step_key") copy_clipped(e.step_key, v);
        if (key == "where") copy_clipped(e.where, v);
      }
      lua_pop(L, 1);  // drop the value, keep the key for lua_next
    }
  }
  if (e.kind[0] == '\0') copy_clipped(e.kind, error_kind_name(ErrorKind::kScriptError));
  if (e.message[0] == '\0') copy_clipped(e.message, "(error object is a table value)");
  return e;
}

}  // namespace artana::lua
