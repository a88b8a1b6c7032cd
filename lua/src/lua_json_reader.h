// The Lua -> JSON walk (lua_json.cc): one reader for to_json (a kernel::Json tree) and
// append_canonical_lua (canonical text), so both accept the same values with the same errors
// and charges. Internal to lua/; its rules for what it may call are lua_json.cc's.
#pragma once

#include <lua.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/error_kind.h"
#include "artana/lua/lua_json.h"
#include "lua_json_walk.h"
#include "lua_path.h"

namespace artana::lua::detail {

using kernel::Json;

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

// The walk, writing either a kernel::Json tree (Out = Json: to_json) or the value's canonical
// text (Out = std::string: append_canonical_lua). One walk for both: what is accepted, every
// error and every charge are the same; only where a value goes differs (the put_* and the
// array and object ends below).
template <typename Out>
class Reader {
  static constexpr bool kText = std::is_same_v<Out, std::string>;

 public:
  Reader(lua_State* L, std::string_view root, Budget& budget)
      : L_(L), root_(root), budget_(budget) {}

  Status take_error() { return std::move(error_); }

  // Reads the value at absolute `index`; may leave extra values on the stack on failure
  // (walk() restores the top).
  bool value(int index, const PathNode* at, int depth, Out& out) {
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
        if constexpr (kText) {
          out += "null";
        } else {
          out = nullptr;
        }
        return true;
      case LUA_TBOOLEAN:
        if constexpr (kText) {
          out += lua_toboolean(L_, index) != 0 ? "true" : "false";
        } else {
          out = lua_toboolean(L_, index) != 0;
        }
        return true;
      case LUA_TNUMBER:
        return number(index, at, out);
      case LUA_TSTRING: {
        size_t n = 0;
        const char* s = lua_tolstring(L_, index, &n);
        // As text the escaping checks the UTF-8 (one pass over a long string, not two).
        if ((!kText && !kernel::is_valid_utf8({s, n})) || !put_string(out, {s, n})) {
          return fail("{}: string is not valid UTF-8 (pass bytes as base64 or hex)", path(at));
        }
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

 public:
  // False, with nothing written, for a string that is not UTF-8 (checked as text only: the
  // tree's strings are checked before).
  static bool put_string(Out& out, std::string_view s) {
    if constexpr (kText) {
      const size_t size = out.size();
      if (kernel::append_canonical_string(out, s, {}).ok()) return true;
      out.resize(size);
      return false;
    } else {
      out = std::string(s);
      return true;
    }
  }
  static void put_integer(Out& out, int64_t v) {
    if constexpr (kText) {
      char digits[24];
      out.append(digits, std::to_chars(digits, digits + sizeof digits, v).ptr);
    } else {
      out = v;
    }
  }
  // A finite double that is not an integer within ±2^53.
  static void put_double(Out& out, double d) {
    if constexpr (kText) {
      (void)kernel::append_canonical_double(out, d, {});
    } else {
      out = d;
    }
  }

 private:
  bool number(int index, const PathNode* at, Out& out) {
    if (lua_isinteger(L_, index)) {
      const lua_Integer v = lua_tointegerx(L_, index, nullptr);
      if (v > kernel::kMaxSafeInteger || v < -kernel::kMaxSafeInteger) {
        return fail(
            "{}: integer {} is beyond ±2^53, which JSON cannot carry exactly; pass it as "
            "a string",
            path(at), v);
      }
      put_integer(out, static_cast<int64_t>(v));
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
      put_integer(out, static_cast<int64_t>(d));  // -0.0 becomes 0
    } else {
      put_double(out, d);
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
  bool table_or_view(int index, const PathNode* at, int depth, Out& out) {
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
  // As text the members are written in the order met, each's place noted, then put in key
  // order (lua_next's order depends on the hash seed) when they were not in it already.
  struct TextMember {
    std::string_view key;  // the table's string: it outlives the walk of this table
    size_t from, to;       // `"key":value` in the text
  };
  using Members = std::conditional_t<kText, std::vector<TextMember>, Json::Object>;

  Shape object(int index, const PathNode* at, int depth, Out& out) {
    lua_pushnil(L_);
    if (lua_next(L_, index) == 0) return Shape::kNotObject;
    Members members;
    members.reserve(4);
    [[maybe_unused]] const size_t begin = out_size(out);
    if constexpr (kText) out += '{';
    do {
      if (lua_type(L_, -2) != LUA_TSTRING) {
        lua_pop(L_, 2);  // drop the key and its value: the table is classified again
        if constexpr (kText) out.resize(begin);
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
      if constexpr (kText) {
        if (!members.empty()) out += ',';
        members.push_back(TextMember{{s, n}, out.size(), 0});
        put_string(out, {s, n});
        out += ':';
        if (!value(lua_gettop(L_), &node, depth, out)) return Shape::kFailed;
        members.back().to = out.size();
      } else {
        members.emplace_back(std::string(s, n), Json());
        if (!value(lua_gettop(L_), &node, depth, members.back().second)) return Shape::kFailed;
      }
      lua_pop(L_, 1);  // drop the value, keep the key for lua_next
    } while (lua_next(L_, index) != 0);
    // lua_next's order depends on the hash seed; sorted members make the result stable.
    if constexpr (kText) {
      const auto less = [](const TextMember& a, const TextMember& b) {
        return kernel::jcs_key_less(a.key, b.key);
      };
      if (!std::is_sorted(members.begin(), members.end(), less)) {
        std::sort(members.begin(), members.end(), less);
        // The members as written, copied aside (into a buffer the walk reuses: its objects
        // are finished inner first, so one buffer serves them all), then back in order.
        scratch_.assign(out, begin, std::string::npos);
        out.resize(begin + 1);  // the '{'
        for (size_t i = 0; i < members.size(); ++i) {
          if (i > 0) out += ',';
          out.append(scratch_, members[i].from - begin, members[i].to - members[i].from);
        }
      }
      out += '}';
    } else {
      sort_members_by_key(members);
      out = std::move(members);
    }
    return Shape::kDone;
  }

  static size_t out_size(const Out& out) {
    if constexpr (kText) {
      return out.size();
    } else {
      return 0;
    }
  }

  bool table(int index, const PathNode* at, int depth, Out& out) {
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
      if constexpr (kText) {
        out += '[';
        for (lua_Integer i = 1; i <= ints; ++i) {
          if (i > 1) out += ',';
          lua_rawgeti(L_, index, i);
          PathNode node{at, {}, i, true};
          if (!value(lua_gettop(L_), &node, depth, out)) return false;
          lua_pop(L_, 1);  // drop the item
        }
        out += ']';
      } else {
        Json::Array items(static_cast<size_t>(ints));
        for (lua_Integer i = 1; i <= ints; ++i) {
          lua_rawgeti(L_, index, i);
          PathNode node{at, {}, i, true};
          if (!value(lua_gettop(L_), &node, depth, items[static_cast<size_t>(i - 1)])) return false;
          lua_pop(L_, 1);  // drop the item
        }
        out = std::move(items);
      }
    } else if constexpr (kText) {
      out += marked ? "[]" : "{}";
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
  std::string scratch_;  // text mode: an unsorted object's members while they are reordered
  Status error_;
};

}  // namespace artana::lua::detail
