/* An application that embeds Lua 5.3 itself, linked statically and exported (-rdynamic), as
 * game engines do, and runs an Artana run through libartana.so: our Lua 5.4 is private to
 * the library, so neither captures the other's lua_* calls. */
#include <stdio.h>
#include <string.h>

#include <artana/artana.h>
#include <lua5.3/lauxlib.h>
#include <lua5.3/lua.h>
#include <lua5.3/lualib.h>

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  lua_State* L = luaL_newstate();
  luaL_openlibs(L);
  if (luaL_dostring(L, "return _VERSION .. ' ' .. (6 * 7)") != 0) return 1;
  const char* own = lua_tostring(L, -1);
  if (strcmp(own, "Lua 5.3 42") != 0) {
    fprintf(stderr, "lua53_app: the app's own Lua said %s\n", own);
    return 1;
  }
  artana_options* options = NULL;
  artana_options_create(&options);
  artana_options_set(options, "data_dir", argv[1]);
  artana_options_set(options, "durability", "none");
  artana_host* host = NULL;
  if (artana_host_create(ARTANA_ABI_VERSION, options, &host) != ARTANA_OK) return 1;
  artana_options_destroy(options);
  const char* source = "return function(run) return { version = _VERSION, n = 6 * 7 } end";
  artana_script* script = NULL;
  artana_run* run = NULL;
  char* output = NULL;
  if (artana_script_load_memory(host, "lua53", source, strlen(source), &script) != ARTANA_OK ||
      artana_run_start(host, script, NULL, NULL, &run) != ARTANA_OK ||
      artana_host_run_until_idle(host, 30000) != ARTANA_OK ||
      artana_run_output(run, &output, NULL) != ARTANA_OK) {
    fprintf(stderr, "lua53_app: %s\n", artana_last_error());
    return 1;
  }
  printf("app: %s, run: %s\n", own, output);
  const int ok = strcmp(output, "{\"n\":42,\"version\":\"Lua 5.4\"}") == 0;
  artana_free(output);
  artana_host_destroy(host);
  lua_close(L);
  return ok ? 0 : 1;
}
