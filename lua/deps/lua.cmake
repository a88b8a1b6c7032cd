# artana::lua: Lua 5.4.4, compiled here into a static library from Debian's lua5.4 source
# package with Debian's patches applied (two CVE fixes among them), for every target.
#
# Lua must be private to whatever links it. Debian's liblua5.4.so exports lua_*: an
# application embedding us that exports its own lua_* (Lua 5.3, LuaJIT, -rdynamic) would
# capture our calls despite the LUA_5.4 symbol versions. Debian's liblua5.4.a is compiled as
# PIE, not PIC, so `ld` refuses it in a shared object. Compiled here as PIC with hidden
# visibility, its symbols stay inside the binary or library that links it. For the same
# reason there is no fallback to an installed Lua.
#
# Needs ARTANA_DEPS_DIR (kernel/deps/cxx_libraries.cmake): .ci/fetch-sources unpacks the source
# there as lua5.4-<Debian version>; the newest one present is used.
file(GLOB lua_markers "${ARTANA_DEPS_DIR}/lua5.4-5.4.4-*/.fetched")
if(NOT lua_markers)
  message(FATAL_ERROR "Lua's source (Debian's lua5.4 5.4.4, patched) is not in "
    "${ARTANA_DEPS_DIR}: run `bash .ci/fetch-sources` (README, \"Dependencies\"). The build "
    "compiles Lua itself and never links an installed one.")
endif()
list(SORT lua_markers COMPARE NATURAL)
list(GET lua_markers -1 lua_marker)
get_filename_component(lua_dir "${lua_marker}" DIRECTORY)
message(STATUS "Lua: compiled from ${lua_dir}")

# The core and the standard libraries: Debian's CORE_O and LIB_O (src/Makefile); not the
# lua and luac programs.
set(lua_sources lapi lcode lctype ldebug ldo ldump lfunc lgc llex lmem lobject lopcodes
  lparser lstate lstring ltable ltm lundump lvm lzio
  lauxlib lbaselib lcorolib ldblib liolib lmathlib loadlib loslib lstrlib ltablib lutf8lib linit)
list(TRANSFORM lua_sources PREPEND "${lua_dir}/src/")
list(TRANSFORM lua_sources APPEND ".c")

# Debian's luaconf.h includes this header, which its debian/rules writes at configure time:
# the multiarch triplet in the default path for C modules (package.cpath). Our sandbox never
# opens `package`; the header is there so that luaconf.h compiles.
set(lua_generated "${PROJECT_BINARY_DIR}/lua_deb")
file(CONFIGURE OUTPUT "${lua_generated}/lua5.4-deb-multiarch.h" CONTENT
  "#ifndef _LUA_DEB_MULTIARCH_\n#define _LUA_DEB_MULTIARCH_\n#define DEB_HOST_MULTIARCH \"${CMAKE_LIBRARY_ARCHITECTURE}\"\n#endif\n")

add_library(artana_lua54 STATIC ${lua_sources})
# As C (errors are _longjmp, STYLE.md §5), gnu99 as Debian compiles it.
set_target_properties(artana_lua54 PROPERTIES
  C_STANDARD 99 C_EXTENSIONS ON
  POSITION_INDEPENDENT_CODE ON
  C_VISIBILITY_PRESET hidden)
# Debian's Linux build defines LUA_COMPAT_5_3 (src/Makefile) and LUA_USE_LINUX (debian/rules),
# which is LUA_USE_POSIX + LUA_USE_DLOPEN. We keep:
# - LUA_COMPAT_5_3: scripts see what they saw with Debian's library (math.pow, math.ldexp,
#   ... in the math table the sandbox copies; __le emulated with __lt).
# - LUA_USE_POSIX: errors as _longjmp/_setjmp (no signal mask saved), POSIX io/os calls.
# and leave out LUA_USE_DLOPEN: it only lets `package` load C modules, which our sandbox never
# opens (no package, io, os or debug), so loadlib.c's refusing stub is enough and no -ldl.
# Private, as Debian's lua5.4.pc gives no defines to its users: they change no type or
# declaration the embedding code sees.
target_compile_definitions(artana_lua54 PRIVATE LUA_COMPAT_5_3 LUA_USE_POSIX)
# Our warning flags and -Werror (add_compile_options in CMakeLists.txt) are for our code, not
# Lua's, and so are the sanitizers (ARTANA_SANITIZE): Lua is compiled as Debian compiles it,
# as the system library the sanitizer builds linked before. AddressSanitizer still checks
# every allocation Lua makes (through our allocator) and every access our code makes; an
# instrumented interpreter would slow every sanitizer test for no finding in our code, and
# UBSan would report Lua's own liberties (halting the test that met them).
get_target_property(lua_options artana_lua54 COMPILE_OPTIONS)
if(lua_options)
  list(FILTER lua_options EXCLUDE REGEX "^-W|^-fsanitize|^-fno-omit-frame-pointer")
  set_target_properties(artana_lua54 PROPERTIES COMPILE_OPTIONS "${lua_options}")
endif()
# Optimised as Debian builds it, in every build type (a -O0 interpreter would slow every
# sanitizer test): -O2, and -Os for the compiler (lexer, parser, code generator).
target_compile_options(artana_lua54 PRIVATE -O2)
set_source_files_properties(${lua_dir}/src/llex.c ${lua_dir}/src/lparser.c
  ${lua_dir}/src/lcode.c PROPERTIES COMPILE_OPTIONS -Os)
# lua.hpp (lua.h, lualib.h, lauxlib.h in extern "C") is in src/. SYSTEM: our warnings are not
# Lua's headers' to meet.
target_include_directories(artana_lua54 SYSTEM PUBLIC "${lua_dir}/src" "${lua_generated}")
target_link_libraries(artana_lua54 PRIVATE m)
add_library(artana::lua ALIAS artana_lua54)
