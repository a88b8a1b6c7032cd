// lua_floor_bench: what a hot reload of 1 000 runs costs Lua 5.4 itself, with nothing of ours
// around it — the floor under embed_hot_reload_1000_runs_ms (embed_bench.cc).
//
// Each of the 1 000 runs has a lua_State of its own (a state per run: docs/embedding.md), of
// about the size ours has when a script starts (the base libraries, a sandbox's worth of
// tables, closures and strings: lua_floor_state_kb against 57 KB), its small blocks from a
// free-list arena of its own as ours are (lua/src/small_blocks.h). A reload does to each
// state in turn what ours does, minus the kernel, the ledger and the host: the old
// execution dropped, a new module instance (31 closures), the entry chunk undumped into a new
// coroutine, and the bench's 10-step script executed again with `run:model` a C function that
// reads the request's fields and answers with a new result of a replayed step's shape. The
// collection of the old execution's garbage is a pass of its own (ours runs it on the state
// pool's thread).
//
//   lua_floor_reload_1000_states_ms: the restart and replay pass over 1 000 cold states.
//   lua_floor_collect_1000_states_ms: the full collections, the pass before it.
//   lua_floor_reload_warm_us: the same per run, 20 states reloaded again and again (cached).
#include <lua.hpp>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "steps_script.h"
#include "support/bench_report.h"
#include "support/bench_settings.h"

using namespace artana::bench;

namespace {

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "lua_floor_bench: %s\n", what);
  std::exit(1);
}

// Small blocks by size class from 64 KiB chunks, each class a free list; big ones malloc'd.
class Arena {
 public:
  Arena() = default;
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;
  ~Arena() {
    for (char* chunk : chunks_) std::free(chunk);
  }

  static void* lua_alloc(void* ud, void* ptr, size_t old_size, size_t new_size) {
    auto* arena = static_cast<Arena*>(ud);
    if (new_size == 0) {
      if (ptr != nullptr) arena->give(ptr, old_size);
      return nullptr;
    }
    if (ptr == nullptr) return arena->take(new_size);  // old_size is a type tag then
    if (old_size > kSmallest * kClasses && new_size > kSmallest * kClasses)
      return std::realloc(ptr, new_size);
    if (new_size <= kSmallest * kClasses && old_size <= kSmallest * kClasses &&
        size_class(old_size) == size_class(new_size))
      return ptr;
    void* moved = arena->take(new_size);
    if (moved == nullptr) return nullptr;
    std::memcpy(moved, ptr, std::min(old_size, new_size));
    arena->give(ptr, old_size);
    return moved;
  }

 private:
  static constexpr size_t kSmallest = 16, kClasses = 32, kChunk = 64 * 1024;
  static size_t size_class(size_t size) { return (size + kSmallest - 1) / kSmallest - 1; }

  void* take(size_t size) {
    if (size > kSmallest * kClasses) return std::malloc(size);
    const size_t cls = size_class(size);
    if (void* block = free_[cls]) {
      free_[cls] = *static_cast<void**>(block);
      return block;
    }
    const size_t rounded = (cls + 1) * kSmallest;
    if (left_ < rounded) {
      next_ = static_cast<char*>(std::malloc(kChunk));
      if (next_ == nullptr) return nullptr;
      chunks_.push_back(next_);
      left_ = kChunk;
    }
    void* block = next_;
    next_ += rounded;
    left_ -= rounded;
    return block;
  }
  void give(void* block, size_t size) {
    if (size > kSmallest * kClasses) return std::free(block);
    const size_t cls = size_class(size);
    *static_cast<void**>(block) = free_[cls];
    free_[cls] = block;
  }

  std::vector<char*> chunks_;
  char* next_ = nullptr;
  size_t left_ = 0;
  void* free_[kClasses] = {};
};

// run:model(request): the request's fields read as the host's decoding reads them, and a new
// result of a replayed step's shape: { output = { text = "ok" }, replayed, seq, run_id }.
int model(lua_State* L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_getfield(L, 2, "model");
  lua_getfield(L, 2, "messages");
  lua_rawgeti(L, -1, 1);
  lua_getfield(L, -1, "role");
  lua_getfield(L, -2, "content");
  if (!lua_isstring(L, -1) || !lua_isstring(L, -2) || !lua_isstring(L, -5))
    return luaL_error(L, "a malformed request");
  lua_settop(L, 2);
  const lua_Integer seq = lua_tointeger(L, lua_upvalueindex(1)) + 1;
  lua_pushinteger(L, seq);
  lua_replace(L, lua_upvalueindex(1));
  lua_createtable(L, 0, 4);
  lua_createtable(L, 0, 1);
  lua_pushliteral(L, "ok");
  lua_setfield(L, -2, "text");
  lua_setfield(L, -2, "output");
  lua_pushboolean(L, 1);
  lua_setfield(L, -2, "replayed");
  lua_pushinteger(L, seq);
  lua_setfield(L, -2, "seq");
  lua_pushvalue(L, lua_upvalueindex(2));
  lua_setfield(L, -2, "run_id");
  return 1;
}

// A new module instance, as each execution gets one: 31 closures bound to it, and the run
// object whose methods they are. Leaves the run object on the stack.
void push_run_object(lua_State* L, int run_number) {
  lua_createtable(L, 0, 32);
  for (int i = 0; i < 30; ++i) {
    lua_pushinteger(L, 0);
    lua_pushfstring(L, "r%d", run_number);
    lua_pushcclosure(L, model, 2);
    lua_setfield(L, -2, ("primitive" + std::to_string(i)).c_str());
  }
  lua_pushinteger(L, 0);
  lua_pushfstring(L, "r%d", run_number);
  lua_pushcclosure(L, model, 2);
  lua_setfield(L, -2, "model");
  lua_createtable(L, 0, 0);  // the run object
  lua_createtable(L, 0, 1);
  lua_pushvalue(L, -3);
  lua_setfield(L, -2, "__index");
  lua_setmetatable(L, -2);
  lua_remove(L, -2);
}

int append_bytes(lua_State*, const void* bytes, size_t size, void* out) {
  static_cast<std::string*>(out)->append(static_cast<const char*>(bytes), size);
  return 0;
}

struct Chunk {
  const std::string* bytes;
  bool read = false;
};

const char* read_chunk(lua_State*, void* data, size_t* size) {
  auto* chunk = static_cast<Chunk*>(data);
  if (chunk->read) {
    *size = 0;
    return nullptr;
  }
  chunk->read = true;
  *size = chunk->bytes->size();
  return chunk->bytes->data();
}

struct RunState {
  std::unique_ptr<Arena> arena = std::make_unique<Arena>();
  lua_State* L = nullptr;
  int entry_ref = LUA_NOREF;  // the execution's coroutine, anchored in the registry
};

// A sandbox's worth of objects beside the base libraries: ours holds 57 KB when a script
// starts (docs/benchmarks.md); `ballast` closures and their names bring this one near it.
void make_state(RunState& run, int ballast) {
  run.L = lua_newstate(&Arena::lua_alloc, run.arena.get());
  if (run.L == nullptr) die("lua_newstate");
  luaL_openlibs(run.L);
  lua_gc(run.L, LUA_GCGEN, 0, 0);  // as ours (lua/src/lua_state.cc)
  const std::string fill = "local t = {} for i = 1, " + std::to_string(ballast) +
                           " do t['name' .. i] = function() return i end end sandbox = t";
  if (luaL_dostring(run.L, fill.c_str()) != LUA_OK) die("the ballast");
}

// One execution of the script in `run`'s state: the old one dropped, a new module instance,
// the entry undumped into a new coroutine, the steps executed. Returns false on an error.
bool execute(RunState& run, int run_number, const std::string& entry, int steps) {
  lua_State* L = run.L;
  luaL_unref(L, LUA_REGISTRYINDEX, run.entry_ref);
  lua_State* co = lua_newthread(L);
  run.entry_ref = luaL_ref(L, LUA_REGISTRYINDEX);
  Chunk chunk{&entry};
  if (lua_load(co, read_chunk, &chunk, "=steps", "b") != LUA_OK) return false;
  int results = 0;
  if (lua_resume(co, L, 0, &results) != LUA_OK || results != 1) return false;
  push_run_object(co, run_number);
  lua_createtable(co, 0, 1);
  lua_pushinteger(co, steps);
  lua_setfield(co, -2, "steps");
  if (lua_resume(co, L, 2, &results) != LUA_OK || results != 1) return false;
  const bool all = lua_rawlen(co, -1) == static_cast<lua_Unsigned>(steps);
  lua_settop(co, 0);
  return all;
}

// Reads every line of a buffer larger than the last-level cache: the states are cold after.
void evict_caches() {
  static std::vector<char> junk(96 << 20, 1);
  volatile long sum = 0;
  for (size_t i = 0; i < junk.size(); i += 64) sum = sum + junk[i];
}

void measure_floor(const Settings& s) {
  const int runs = 1000, steps = 10, repeats = s.quick ? 2 : 5;
  std::string entry;
  {
    lua_State* L = luaL_newstate();
    if (luaL_loadstring(L, kStepsScript) != LUA_OK) die("the script");
    lua_dump(L, append_bytes, &entry, 0);
    lua_close(L);
  }
  std::vector<RunState> states(runs);
  for (int i = 0; i < runs; ++i) {
    make_state(states[i], 220);
    if (!execute(states[i], i, entry, steps)) die("the first execution");
  }
  lua_gc(states[0].L, LUA_GCCOLLECT);
  info(summarize("lua_floor_state_kb", "KB", {double(lua_gc(states[0].L, LUA_GCCOUNT))}), s.json);
  std::vector<double> collect, reload;
  for (int r = 0; r < repeats; ++r) {
    evict_caches();
    const double t0 = now_us();
    for (RunState& run : states) {
      luaL_unref(run.L, LUA_REGISTRYINDEX, run.entry_ref);  // the old execution goes
      run.entry_ref = LUA_NOREF;
      lua_gc(run.L, LUA_GCCOLLECT);
    }
    const double t1 = now_us();
    for (int i = 0; i < runs; ++i)
      if (!execute(states[i], i, entry, steps)) die("a reload");
    const double t2 = now_us();
    collect.push_back((t1 - t0) / 1000.0);
    reload.push_back((t2 - t1) / 1000.0);
  }
  info(summarize("lua_floor_collect_1000_states_ms", "ms", std::move(collect)), s.json);
  info(summarize("lua_floor_reload_1000_states_ms", "ms", std::move(reload)), s.json);
  // Warm: 20 states reloaded again and again, the same two passes, per run.
  std::vector<double> warm;
  const int few = 20;
  for (int r = 0; r < (s.quick ? 20 : 200); ++r) {
    for (int i = 0; i < few; ++i) lua_gc(states[i].L, LUA_GCCOLLECT);
    const double t0 = now_us();
    for (int i = 0; i < few; ++i)
      if (!execute(states[i], i, entry, steps)) die("a warm reload");
    warm.push_back((now_us() - t0) / few);
  }
  info(summarize("lua_floor_reload_warm_us", "us", std::move(warm)), s.json);
  for (RunState& run : states) lua_close(run.L);
}

}  // namespace

int main(int argc, char** argv) {
  Settings s = parse_settings(argc, argv, "floor", "lua-floor-bench");
  if (s.wants("floor")) measure_floor(s);
  if (s.temporary) std::filesystem::remove_all(s.dir);
  return 0;
}
