#include "artana/lua/syscall_args.h"

#include <lua.hpp>

#include <cmath>

#include "artana/kernel/canonical_json.h"
#include "artana/kernel/error_kind.h"
#include "artana/kernel/event_index.h"
#include "artana/lua/lua_json.h"

namespace artana::lua {
namespace {

using kernel::Json;

Status bad(std::string_view message) {
  return Status::invalid_argument("{}", message).with_kind(ErrorKind::kInvalidArgument);
}

// The string at `index`, or nullopt when it is not a string (a number is not converted).
std::optional<std::string> string_arg(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TSTRING) return std::nullopt;
  size_t size = 0;
  const char* text = lua_tolstring(L, index, &size);
  return std::string(text, size);
}

// An integer argument (an integral float is accepted), or nullopt.
std::optional<int64_t> integer_arg(lua_State* L, int index) {
  int is_integer = 0;
  const lua_Integer value = lua_tointegerx(L, index, &is_integer);
  if (!is_integer) return std::nullopt;
  return value;
}

// Where a field's conversion errors point: "request.messages[2].content: ...".
constexpr std::string_view kModelRoots[] = {
    "request.model",   "request.prompt",   "request.messages", "request.schema",
    "request.tools",   "request.step_key", "request.replay",   "request.retry_failed",
    "request.options", "request.stream"};
static_assert(std::size(kModelRoots) == std::size(kModelFields));

// A table the walk would make an array of (or refuse with its own error): marked as one, or
// with an item at 1. Never raises (lua_rawlen and the marker check are raw reads).
bool reads_as_array(lua_State* L, int index) {
  if (lua_type(L, index) != LUA_TTABLE) return false;
  return lua_rawlen(L, index) > 0 || is_marked_array(L, index);
}

}  // namespace

Status StackJson::append_canonical(std::string& out) const {
  return append_canonical_lua(L_, index_, root_, out);
}

Result<Json> StackJson::build() const { return to_json(L_, index_, root_); }

Result<ModelArgs> decode_model(lua_State* L) {
  if (lua_type(L, 2) != LUA_TTABLE)
    return bad("run:model expects a table: run:model { model = ..., prompt = ... }");
  // One raw pass over the table. lua_next's order depends on the hash seed, so the error
  // reported is chosen after it, in a fixed order: the first unknown field (in key order),
  // then the fields in kModelFields order.
  // The messages slot, lua_next's key and value, and is_marked_array's two.
  if (!lua_checkstack(L, 5)) return bad("run:model: out of Lua stack space");
  ModelArgs args;
  Status field_errors[static_cast<size_t>(ModelField::kCount)];
  std::optional<std::string> unknown;
  bool positional = false;
  lua_pushnil(L);  // where `messages` stays for the kernel to read (StackJson)
  const int messages_slot = lua_gettop(L);
  lua_pushnil(L);
  while (lua_next(L, 2) != 0) {
    if (lua_type(L, -2) != LUA_TSTRING) {
      positional = true;
      lua_pop(L, 1);  // drop the value, keep the key for lua_next
      continue;
    }
    size_t n = 0;
    const char* s = lua_tolstring(L, -2, &n);  // a string key: no conversion
    const std::string_view name(s, n);
    size_t field = 0;
    while (field < std::size(kModelFields) && kModelFields[field] != name) ++field;
    if (field == std::size(kModelFields)) {
      if (!unknown || kernel::jcs_key_less(name, *unknown)) unknown = std::string(name);
    } else if (static_cast<ModelField>(field) == ModelField::kMessages && reads_as_array(L, -1)) {
      lua_copy(L, -1, messages_slot);
      args.messages_source.emplace(L, messages_slot, kModelRoots[field]);
    } else {
      Result<Json> value = to_json(L, -1, kModelRoots[field]);
      if (value.ok()) {
        args.fields[field] = std::move(*value);
      } else if (value.status().error_kind() == ErrorKind::kLimitExceeded) {
        lua_pop(L, 2);
        return value.status();  // the run is being killed: nothing else matters
      } else {
        field_errors[field] = value.status();
      }
    }
    lua_pop(L, 1);
  }
  if (positional) {
    return bad(
        "run:model: the request has positional items; it takes named fields: run:model { "
        "model = ..., prompt = ... }");
  }
  if (unknown) {
    std::string known;
    for (std::string_view field : kModelFields) {
      known += known.empty() ? "" : ", ";
      known += field;
    }
    return bad("run:model: unknown field '" + *unknown + "' (fields: " + known + ")");
  }
  for (const Status& error : field_errors) {
    if (!error.ok()) return error;
  }
  return args;
}

Result<ToolArgs> decode_tool(lua_State* L) {
  ToolArgs args;
  std::optional<std::string> name = string_arg(L, 2);
  if (!name) return bad("run:tool(name, args, options): name must be a string");
  args.tool = std::move(*name);
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TTABLE) return bad("run:tool: args must be a table");
    ARTANA_ASSIGN_OR_RETURN(args.arguments, to_json(L, 3, "args"));
  }
  if (!lua_isnoneornil(L, 4)) {
    if (lua_type(L, 4) != LUA_TTABLE) return bad("run:tool: options must be a table");
    ARTANA_ASSIGN_OR_RETURN(args.options, to_json(L, 4, "options"));
    // An empty table crosses as an empty array: no options.
    if (args.options.is_array() && args.options.size() == 0) args.options = Json::object();
    if (!args.options.is_object()) return bad("run:tool: options must be a table of named options");
  }
  return args;
}

Result<PauseArgs> decode_pause(lua_State* L) {
  PauseArgs args;
  std::optional<std::string> reason = string_arg(L, 2);
  if (!reason) return bad("run:pause(reason [, context]): reason must be a string");
  args.reason = std::move(*reason);
  if (!lua_isnoneornil(L, 3)) {
    ARTANA_ASSIGN_OR_RETURN(args.context, to_json(L, 3, "context"));
  }
  return args;
}

Result<SleepArgs> decode_sleep(lua_State* L) {
  int is_number = 0;
  const lua_Number seconds = lua_tonumberx(L, 2, &is_number);
  if (!is_number || !std::isfinite(seconds) || seconds < 0 || seconds > 1e9)
    return bad("run:sleep(seconds): a number from 0 to 1e9");
  return SleepArgs{seconds};
}

Result<RandomArgs> decode_random(lua_State* L) {
  const int nargs = lua_gettop(L) - 1;
  RandomArgs args;
  if (nargs < 1) return args;
  args.low = integer_arg(L, 2);
  args.high = nargs >= 2 ? integer_arg(L, 3) : args.low;
  if (nargs == 1) args.low = 1;
  if (!args.low || !args.high || nargs > 2)
    return bad(
        "run:random() gives a float in [0,1); run:random(m) an integer in [1,m]; "
        "run:random(m, n) an integer in [m,n]");
  if (*args.low > *args.high)
    return Status::invalid_argument("run:random: the interval is empty ({} > {})", *args.low,
                                    *args.high)
        .with_kind(ErrorKind::kInvalidArgument);
  constexpr int64_t kSafe = int64_t{1} << 53;
  if (*args.low < -kSafe || *args.high > kSafe)
    return bad("run:random: bounds must be within ±2^53");
  return args;
}

Result<SummaryArgs> decode_summary(lua_State* L) {
  std::optional<std::string> kind = string_arg(L, 2);
  if (!kind || kind->empty())
    return bad("run:summary(kind, value): kind must be a non-empty string");
  SummaryArgs args{std::move(*kind), [L]() { return to_json(L, 3, "value"); }, {}, {}};
  if (!lua_isnoneornil(L, 4)) {
    std::optional<std::string> key = string_arg(L, 4);
    if (!key || key->empty() || key->size() > kernel::kMaxStepKeyBytes)
      return bad("run:summary: options.key must be a string of 1..400 bytes");
    args.key = std::move(*key);
  }
  if (!lua_isnoneornil(L, 5)) {
    args.step_key = string_arg(L, 5);
    if (!args.step_key || args.step_key->empty())
      return bad("run:summary: options.step_key must be a non-empty string");
  }
  return args;
}

Result<ChildArgs> decode_child(lua_State* L) {
  ChildArgs args;
  std::optional<std::string> script = string_arg(L, 2);
  if (!script || script->empty())
    return bad("run:child(script [, options]): script must be a path in the script's folder");
  args.script = std::move(*script);
  if (!lua_isnoneornil(L, 3)) {
    if (lua_type(L, 3) != LUA_TTABLE) return bad("run:child: options must be a table");
    ARTANA_ASSIGN_OR_RETURN(args.options, to_json(L, 3, "options"));
    if (args.options.is_array() && args.options.size() == 0) args.options = Json::object();
    if (!args.options.is_object())
      return bad("run:child: options must be a table of named options");
  }
  return args;
}

Result<kernel::LookupRequest> decode_lookup(lua_State* L) {
  kernel::LookupRequest request;
  std::optional<std::string> kind = string_arg(L, 2);
  if (!kind || kind->empty()) return bad("run:lookup: kind must be a non-empty string");
  request.kind = std::move(*kind);
  if (!lua_isnoneornil(L, 3)) {
    std::optional<std::string> scope = string_arg(L, 3);
    if (scope == std::optional<std::string>("tenant")) {
      request.scope = kernel::SummaryScope::kTenant;
    } else if (scope != std::optional<std::string>("run")) {
      return bad("run:lookup: scope must be \"run\" or \"tenant\"");
    }
  }
  if (!lua_isnoneornil(L, 4)) {
    const std::optional<int64_t> limit = integer_arg(L, 4);
    if (!limit || *limit < 1 || *limit > kernel::kMaxLookupLimit)
      return bad("run:lookup: limit must be an integer from 1 to 1000");
    request.limit = *limit;
  }
  return request;
}

Result<ArtifactArgs> decode_artifact(lua_State* L) {
  ArtifactArgs args;
  std::optional<std::string> key = string_arg(L, 2);
  if (!key) return bad("run:artifact(key [, value]): key must be a string");
  args.key = std::move(*key);
  if (lua_gettop(L) >= 3) args.value = [L]() { return to_json(L, 3, "value"); };
  return args;
}

Result<VersionArgs> decode_version(lua_State* L) {
  std::optional<std::string> change = string_arg(L, 2);
  const std::optional<int64_t> max = integer_arg(L, 3);
  if (!change || !max)
    return bad("run:version(change_id, max): a change id string and the newest version");
  return VersionArgs{std::move(*change), *max};
}

Result<std::string> decode_step_name(lua_State* L) {
  std::optional<std::string> name = string_arg(L, 2);
  if (!name || name->empty()) return bad("run:step(name, fn): name must be a non-empty string");
  return std::move(*name);
}

Result<Json> decode_step_value(lua_State* L) { return to_json(L, 2, "step result"); }

Result<std::string> decode_scope_name(lua_State* L) {
  std::optional<std::string> name = string_arg(L, 2);
  if (!name) return bad("run:scope(name, fn): name must be a string");
  return std::move(*name);
}

Result<ParallelArgs> decode_parallel(lua_State* L) {
  ParallelArgs args;
  auto names = to_json(L, 2, "branches");
  if (!names.ok() || !names->is_array()) return bad("run:parallel: bad branch names");
  for (Json& name : names->as_array()) {
    if (!name.is_string()) return bad("run:parallel: branch names must be strings");
    args.names.push_back(std::move(name.as_string()));
  }
  if (!lua_isnoneornil(L, 4)) {
    const std::optional<int64_t> max = integer_arg(L, 4);
    if (!max || *max < 1) return bad("run:parallel: max_concurrency must be an integer >= 1");
    args.max_concurrency = static_cast<size_t>(*max);
  }
  return args;
}

Status hand_over_parallel(lua_State* L, lua_State* main) {
  if (!lua_checkstack(main, 2) || !lua_checkstack(L, 2))
    return Status::unavailable("stack overflow").with_kind(ErrorKind::kLimitExceeded);
  lua_pushvalue(L, 1);  // the run object
  lua_pushvalue(L, 3);  // the branch functions
  lua_xmove(L, main, 2);
  return Status();
}

Result<std::string> decode_module_name(lua_State* L) {
  std::optional<std::string> name = string_arg(L, 1);
  if (!name) return bad("require expects a module name");
  return std::move(*name);
}

}  // namespace artana::lua
