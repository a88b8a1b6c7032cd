// Lua -> JSON conversion (lua_json.h): to_json and append_canonical_lua, both by the walk in
// lua_json_reader.h; JSON -> Lua is in lua_json_push.cc.
//
// Why the walk cannot longjmp (STYLE.md §5): it holds std::string, Json and a set while it
// reads the Lua stack, so it only calls functions the 5.4 manual marks `-` (never raise):
//   lua_type, lua_typename, lua_isinteger, lua_toboolean, lua_tointegerx, lua_tonumberx,
//   lua_topointer, lua_absindex, lua_gettop, lua_rawequal    -- pure reads, no allocation
//   lua_tolstring    -- only on values already strings: converting a number would allocate
//   lua_rawgeti, lua_rawgetp, lua_rawget, lua_getmetatable, lua_pushnil  -- raw, into
//                    reserved slots (a view's field name is a registry string: no allocation)
//   lua_next         -- raw traversal; it raises only for a key not in the table, and we
//                       never change a table while walking it (pops keep the key intact)
//   lua_checkstack   -- returns false instead of raising when the stack cannot grow
//   lua_settop/pop   -- marked `e` only because it may close a to-be-closed slot; the slots
//                       we drop are ones we pushed, and lua_toclose is never called on them
// push_json (lua_json_push.cc) does the opposite.
#include "artana/lua/lua_json.h"

#include <lua.hpp>

#include <new>
#include <optional>
#include <string>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/lua_state.h"
#include "lua_json_reader.h"

namespace artana::lua {
namespace {

using detail::Budget;
using detail::kNodeBytes;
using detail::Reader;

using kernel::Json;

// The walk's charge for what it read and built (to_json below): the C work the hook does
// not see, and the run's memory. An uncatchable kill once over a limit.
Status charge_walk(LuaState* state, const Budget& budget, std::string_view root) {
  if (state == nullptr ||
      state->charge(budget.nodes + budget.bytes / LuaState::kBytesPerInstruction)) {
    return Status();
  }
  return Status::failed_precondition("{}: {} exceeded converting it to JSON",
                                     root.empty() ? "value" : root, state->kill_reason())
      .with_kind(ErrorKind::kLimitExceeded);
}

// A string, the commonest argument (a prompt, a model name): converted without setting up a
// walk, charged as the walk would. nullopt when it needs the walk's error (not UTF-8, more
// than the memory left).
template <typename Out>
std::optional<Status> string_value(lua_State* L, int index, std::string_view root, Out& out) {
  size_t n = 0;
  const char* s = lua_tolstring(L, index, &n);  // a string already: no conversion, no error
  LuaState* state = LuaState::from(L);
  Budget budget;
  budget.nodes = 1;
  budget.bytes = kNodeBytes + n;
  if (state != nullptr) {
    const size_t limit = state->limits().max_memory_bytes, used = state->memory_used();
    if (used >= limit || budget.bytes > limit - used) return std::nullopt;
  }
  if (!kernel::is_valid_utf8({s, n})) return std::nullopt;
  try {
    Reader<Out>::put_string(out, {s, n});  // UTF-8 checked above
  } catch (const std::bad_alloc&) {
    return std::nullopt;  // the walk reports it
  }
  return charge_walk(state, budget, root);
}

// The walk of the value at `index` into `out`, set up and charged (to_json and
// append_canonical_lua).
template <typename Out>
Status walk(lua_State* L, int index, std::string_view root, Out& out) {
  if (lua_type(L, index) == LUA_TSTRING) {
    if (std::optional<Status> fast = string_value(L, index, root, out)) return std::move(*fast);
  }
  const int top = lua_gettop(L);
  const int abs = lua_absindex(L, index);
  bool ok = false;
  Status error;
  LuaState* state = LuaState::from(L);
  Budget budget;
  if (state != nullptr) {
    const size_t limit = state->limits().max_memory_bytes, used = state->memory_used();
    budget.bytes_left = limit > used ? limit - used : 0;
  }
  // Building allocates; bad_alloc must become a Status, never unwind through Lua.
  try {
    Reader<Out> reader(L, root, budget);
    ok = reader.value(abs, nullptr, 0, out);
    if (!ok) error = reader.take_error();
  } catch (const std::bad_alloc&) {
    ok = false;
    error = Status::unavailable("{}: out of memory converting a Lua value to JSON",
                                root.empty() ? "value" : root);
  }
  lua_settop(L, top);  // drops only slots we pushed; see the file comment
  if (state != nullptr) {
    // The walk is C work the hook does not see, and what it built is the run's memory: both
    // end the run like its own instructions and allocations would (uncatchable kills).
    if (!ok && error.error_kind() == ErrorKind::kLimitExceeded) state->kill_for_memory();
    Status charged = charge_walk(state, budget, root);
    if (!charged.ok() && ok) {
      ok = false;
      error = std::move(charged);
    }
  }
  if (!ok) return error;
  return Status();
}

}  // namespace

Result<Json> to_json(lua_State* L, int index, std::string_view root) {
  Json out;
  ARTANA_RETURN_IF_ERROR(walk(L, index, root, out));
  return out;
}

Status append_canonical_lua(lua_State* L, int index, std::string_view root, std::string& out) {
  const size_t size = out.size();
  Status written = walk(L, index, root, out);
  if (!written.ok()) out.resize(size);  // nothing half-written stays
  return written;
}

}  // namespace artana::lua
