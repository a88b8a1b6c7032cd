// Lua -> JSON conversion (lua_json.h); JSON -> Lua is in lua_json_push.cc.
//
// Why to_json cannot longjmp (STYLE.md §5): it holds std::string, Json and a set while it
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

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/lua/lua_state.h"
#include "lua_json_walk.h"
#include "lua_path.h"

namespace artana::lua {
namespace {

using detail::OpenTables;
using detail::PathNode;
using detail::quote_key;
using detail::render_path;
using detail::sort_members_by_key;

using kernel::Json;

// ---- Lua -> JSON ---------------------------------------------------------------------------

// What a conversion may build: the Json it makes is the run's memory too. A table reached
// along many paths is copied each time (`t = {t, t}` twenty times over is a million
// leaves), so the bound is on what is built, not on the Lua heap it came from.
struct Budget {
  uint64_t bytes_left = UINT64_MAX;
  uint64_t bytes = 0;  // estimated bytes built so far
  uint64_t nodes = 0;  // values visited: the C work, charged as instructions
};

// Roughly what one value costs built (the Json node, a member's key, a string's bytes).
constexpr uint64_t kNodeBytes = sizeof(Json) + 16;

class Reader {
 public:
  Reader(lua_State* L, std::string_view root, Budget& budget)
      : L_(L), root_(root), budget_(budget) {}

  Status take_error() { return std::move(error_); }

  // Reads the value at absolute `index`; may leave extra values on the stack on failure
  // (to_json restores the top).
  bool value(int index, const PathNode* at, int depth, Json& out) {
    ++budget_.nodes;
    budget_.bytes += kNodeBytes;
    if (lua_type(L_, index) == LUA_TSTRING) budget_.bytes += lua_rawlen(L_, index);
    if (budget_.bytes > budget_.bytes_left) {
      error_ = Status::failed_precondition(
                   "{}: as JSON it would take more than the {} bytes of memory the run has "
                   "left (a table reached along several paths is copied each time)",
                   path(at), budget_.bytes_left)
                   .with_kind(ErrorKind::kLimitExceeded);
      return false;
    }
    switch (lua_type(L_, index)) {
      case LUA_TNIL:
        out = nullptr;
        return true;
      case LUA_TBOOLEAN:
        out = lua_toboolean(L_, index) != 0;
        return true;
      case LUA_TNUMBER:
        return number(index, at, out);
      case LUA_TSTRING: {
        size_t n = 0;
        const char* s = lua_tolstring(L_, index, &n);
        if (!kernel::is_valid_utf8({s, n})) {
          return fail("{}: string is not valid UTF-8 (pass bytes as base64 or hex)", path(at));
        }
        out = std::string(s, n);
        return true;
      }
      case LUA_TTABLE:
        return table_or_view(index, at, depth + 1, out);
      default:
        return fail(
            "{}: a {} cannot cross as JSON (pass data: nil, boolean, number, string, table)",
            path(at), lua_typename(L_, lua_type(L_, index)));
    }
  }

 private:
  template <typename... Args>
  bool fail(fmt::format_string<Args...> format, Args&&... args) {
    error_ = Status::invalid_argument(format, std::forward<Args>(args)...);
    return false;
  }

  std::string path(const PathNode* at) const { return render_path(root_, at); }

  bool number(int index, const PathNode* at, Json& out) {
    if (lua_isinteger(L_, index)) {
      const lua_Integer v = lua_tointegerx(L_, index, nullptr);
      if (v > kernel::kMaxSafeInteger || v < -kernel::kMaxSafeInteger) {
        return fail(
            "{}: integer {} is beyond ±2^53, which JSON cannot carry exactly; pass it as "
            "a string",
            path(at), v);
      }
      out = static_cast<int64_t>(v);
      return true;
    }
    const double d = lua_tonumberx(L_, index, nullptr);
    if (!std::isfinite(d)) {
      return fail("{}: number is {}, which JSON cannot carry", path(at),
                  std::isnan(d) ? "NaN"
                  : d > 0       ? "inf"
                                : "-inf");
    }
    // JSON has one number type: 1.0 and 1 are the same value, and an integer replays as the
    // same Lua subtype the script would get back from a recorded result.
    const double limit = static_cast<double>(kernel::kMaxSafeInteger);
    if (std::trunc(d) == d && d <= limit && d >= -limit) {
      out = static_cast<int64_t>(d);  // -0.0 becomes 0
    } else {
      out = d;
    }
    return true;
  }

  // A key that is neither a string nor an integer, described without addresses.
  std::string describe_key(int index) const {
    switch (lua_type(L_, index)) {
      case LUA_TBOOLEAN:
        return fmt::format("{} (a boolean)", lua_toboolean(L_, index) ? "true" : "false");
      case LUA_TNUMBER:
        return fmt::format("{} (a float)", lua_tonumberx(L_, index, nullptr));
      default:
        return fmt::format("of type {}", lua_typename(L_, lua_type(L_, index)));
    }
  }

  // A view (lua_json.h, enable_json_views) crosses as its data table.
  bool table_or_view(int index, const PathNode* at, int depth, Json& out) {
    if (!lua_checkstack(L_, 2)) return fail("{}: out of Lua stack space", path(at));
    if (!push_json_view_data(L_, index)) return table(index, at, depth, out);
    const bool ok = table(lua_gettop(L_), at, depth, out);
    lua_pop(L_, 1);  // drop the data
    return ok;
  }

  enum class Shape { kDone, kFailed, kNotObject };

  // The common case in one pass: a table whose keys are all strings, converted as they are
  // met. kNotObject, having converted nothing that counts, for any other table (empty, an
  // array, or a key JSON cannot carry): table() classifies it and names what is wrong.
  Shape object(int index, const PathNode* at, int depth, Json& out) {
    lua_pushnil(L_);
    if (lua_next(L_, index) == 0) return Shape::kNotObject;
    Json::Object members;
    members.reserve(4);
    do {
      if (lua_type(L_, -2) != LUA_TSTRING) {
        lua_pop(L_, 2);  // drop the key and its value: the table is classified again
        return Shape::kNotObject;
      }
      size_t n = 0;
      const char* s = lua_tolstring(L_, -2, &n);
      if (!kernel::is_valid_utf8({s, n})) {
        fail("{}: key {} is not valid UTF-8", path(at), quote_key({s, n}));
        return Shape::kFailed;
      }
      PathNode node{at, {s, n}, 0, false};
      budget_.bytes += n;
      members.emplace_back(std::string(s, n), Json());
      if (!value(lua_gettop(L_), &node, depth, members.back().second)) return Shape::kFailed;
      lua_pop(L_, 1);  // drop the value, keep the key for lua_next
    } while (lua_next(L_, index) != 0);
    // lua_next's order depends on the hash seed; sorted members make the result stable.
    sort_members_by_key(members);
    out = std::move(members);
    return Shape::kDone;
  }

  bool table(int index, const PathNode* at, int depth, Json& out) {
    if (depth > kMaxLuaJsonDepth) {
      return fail("{}: tables nest deeper than {} levels", path(at), kMaxLuaJsonDepth);
    }
    const void* self = lua_topointer(L_, index);
    if (!open_.enter(self)) {
      return fail("a table contains itself at {} (JSON cannot carry a cycle)", path(at));
    }
    // 2 slots for lua_next's key and value (or the marker check), 1 for rawgeti.
    if (!lua_checkstack(L_, 3)) return fail("{}: out of Lua stack space", path(at));
    const bool marked = is_marked_array(L_, index);
    if (!marked) {
      const Shape shape = object(index, at, depth, out);
      if (shape != Shape::kNotObject) {
        if (shape == Shape::kDone) open_.leave(self);
        return shape == Shape::kDone;
      }
    }

    // Not an object (object() above took those): classify the keys, so the shape is known
    // before anything is converted. String keys here are an error: mixed with items, or in
    // a table marked as an array.
    lua_Integer ints = 0, min_int = LUA_MAXINTEGER, max_int = LUA_MININTEGER;
    size_t strings = 0;
    std::string first_string;
    lua_pushnil(L_);
    while (lua_next(L_, index) != 0) {
      if (lua_type(L_, -2) == LUA_TSTRING) {
        if (strings++ == 0) {
          size_t n = 0;
          const char* s = lua_tolstring(L_, -2, &n);
          first_string.assign(s, n);
        }
      } else if (lua_isinteger(L_, -2)) {
        const lua_Integer k = lua_tointegerx(L_, -2, nullptr);
        ++ints;
        min_int = std::min(min_int, k);
        max_int = std::max(max_int, k);
      } else {
        return fail("{}: key {} cannot cross as JSON (keys are strings, or 1..n for an array)",
                    path(at), describe_key(-2));
      }
      lua_pop(L_, 1);  // drop the value, keep the key for lua_next
    }

    if (ints > 0 && strings > 0) {
      return fail(
          "{}: table mixes array items (key {}) and string keys (key {}); JSON needs "
          "one or the other",
          path(at), min_int, quote_key(first_string));
    }
    if (marked && strings > 0) {
      return fail("{}: table marked as an array has string key {}", path(at),
                  quote_key(first_string));
    }
    if (ints > 0) {
      if (min_int < 1 || max_int != ints) {
        return fail(
            "{}: array has key {} but {} items; a JSON array needs keys 1..n without "
            "holes",
            path(at), min_int < 1 ? min_int : max_int, ints);
      }
      Json::Array items(static_cast<size_t>(ints));
      for (lua_Integer i = 1; i <= ints; ++i) {
        lua_rawgeti(L_, index, i);
        PathNode node{at, {}, i, true};
        if (!value(lua_gettop(L_), &node, depth, items[static_cast<size_t>(i - 1)])) return false;
        lua_pop(L_, 1);  // drop the item
      }
      out = std::move(items);
    } else {
      out = marked ? Json(Json::Array()) : Json(Json::Object());
    }
    // Leaving the table: a table reached twice along different paths is not a cycle.
    open_.leave(self);
    return true;
  }

  lua_State* L_;
  std::string_view root_;
  Budget& budget_;
  OpenTables open_;
  Status error_;
};

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
std::optional<Result<Json>> string_to_json(lua_State* L, int index, std::string_view root) {
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
  Json out;
  try {
    out = std::string(s, n);
  } catch (const std::bad_alloc&) {
    return std::nullopt;  // the walk reports it
  }
  Status charged = charge_walk(state, budget, root);
  if (!charged.ok()) return Result<Json>(std::move(charged));
  return Result<Json>(std::move(out));
}

}  // namespace

Result<Json> to_json(lua_State* L, int index, std::string_view root) {
  if (lua_type(L, index) == LUA_TSTRING) {
    if (std::optional<Result<Json>> fast = string_to_json(L, index, root)) return std::move(*fast);
  }
  const int top = lua_gettop(L);
  const int abs = lua_absindex(L, index);
  bool ok = false;
  Json out;
  Status error;
  LuaState* state = LuaState::from(L);
  Budget budget;
  if (state != nullptr) {
    const size_t limit = state->limits().max_memory_bytes, used = state->memory_used();
    budget.bytes_left = limit > used ? limit - used : 0;
  }
  // Building Json allocates; bad_alloc must become a Status, never unwind through Lua.
  try {
    Reader reader(L, root, budget);
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
  return out;
}

}  // namespace artana::lua
