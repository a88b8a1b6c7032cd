# artana::fmt, artana::spdlog, artana::simdjson: the C++ libraries every binary links.
#
# Debian ships fmt, spdlog and simdjson as shared libraries, and each one loaded brings
# libstdc++.so with it: about 2.7 ms of loading and relocation in every `artana` process (a
# one-step run takes about 13). When their Debian source packages have been fetched
# (.ci/fetch-sources, which .ci/install-deps runs) in the versions installed, they are
# compiled here into one static library and the binaries link the C++ runtime statically
# too. Otherwise, or with -DARTANA_STATIC_CXX=OFF, the shared libraries are linked as before.
# All three or none: a shared spdlog would bring a shared fmt beside the compiled one.
option(ARTANA_STATIC_CXX "Compile fmt, spdlog and simdjson into the binaries (with the C++ runtime)" ON)
if(DEFINED ENV{ARTANA_DEPS_DIR})
  set(artana_default_deps_dir "$ENV{ARTANA_DEPS_DIR}")
else()
  set(artana_default_deps_dir "${PROJECT_SOURCE_DIR}/.deps")
endif()
set(ARTANA_DEPS_DIR "${artana_default_deps_dir}" CACHE PATH
  "Where .ci/fetch-sources put the Debian source packages")

# The fetched source of `package` in the version `version` (the installed one), or empty.
function(artana_fetched_source out package version)
  file(GLOB candidates LIST_DIRECTORIES true "${ARTANA_DEPS_DIR}/${package}-${version}*/.fetched")
  set(found "")
  if(candidates)
    list(GET candidates 0 marker)
    get_filename_component(found "${marker}" DIRECTORY)
  endif()
  set(${out} "${found}" PARENT_SCOPE)
endfunction()

add_library(artana::fmt INTERFACE IMPORTED GLOBAL)
add_library(artana::spdlog INTERFACE IMPORTED GLOBAL)
add_library(artana::simdjson INTERFACE IMPORTED GLOBAL)
set(ARTANA_CXX_LINKED_STATICALLY OFF)
if(ARTANA_STATIC_CXX)
  artana_fetched_source(fmt_dir fmtlib ${fmt_VERSION})
  artana_fetched_source(spdlog_dir spdlog ${spdlog_VERSION})
  artana_fetched_source(simdjson_dir simdjson ${simdjson_VERSION})
  if(fmt_dir AND spdlog_dir AND simdjson_dir)
    set(ARTANA_CXX_LINKED_STATICALLY ON)
  else()
    message(STATUS "fmt, spdlog and simdjson are linked as shared libraries: their sources "
      "(fmt ${fmt_VERSION}, spdlog ${spdlog_VERSION}, simdjson ${simdjson_VERSION}) are not in "
      "${ARTANA_DEPS_DIR}; bash .ci/fetch-sources fetches them")
  endif()
endif()

if(ARTANA_CXX_LINKED_STATICALLY)
  # Only what the binaries use: fmt's formatting, spdlog's loggers and colour sinks,
  # simdjson's amalgamated implementation.
  add_library(artana_cxx_libraries STATIC
    ${fmt_dir}/src/format.cc
    ${spdlog_dir}/src/spdlog.cpp
    ${spdlog_dir}/src/color_sinks.cpp
    ${spdlog_dir}/src/stdout_sinks.cpp
    ${spdlog_dir}/src/async.cpp
    ${simdjson_dir}/singleheader/simdjson.cpp)
  # Their headers, from the same sources; SYSTEM: our warning flags are not theirs to meet.
  target_include_directories(artana_cxx_libraries SYSTEM PUBLIC
    ${fmt_dir}/include ${spdlog_dir}/include ${simdjson_dir}/singleheader)
  target_compile_definitions(artana_cxx_libraries PUBLIC SPDLOG_COMPILED_LIB SPDLOG_FMT_EXTERNAL)
  # Optimised in every build type (a Debug simdjson would slow every sanitizer test), and
  # without our warnings.
  target_compile_options(artana_cxx_libraries PRIVATE -O2 -w)
  # Not instrumented by ASan and UBSan, as Lua is not (lua/deps/lua.cmake): they are not our
  # code, AddressSanitizer still checks every allocation they make and every access ours
  # makes, and instrumenting simdjson, spdlog and fmt took the sanitizer build 1.8 CPU
  # minutes of its compile (simdjson alone a minute). ThreadSanitizer keeps them instrumented:
  # it needs to see their atomics.
  if(ARTANA_SANITIZE)
    get_target_property(cxx_libraries_options artana_cxx_libraries COMPILE_OPTIONS)
    list(FILTER cxx_libraries_options EXCLUDE REGEX "^-fsanitize|^-fno-sanitize")
    set_target_properties(artana_cxx_libraries PROPERTIES COMPILE_OPTIONS "${cxx_libraries_options}")
  endif()
  target_link_libraries(artana_cxx_libraries PUBLIC Threads::Threads)
  target_link_libraries(artana::fmt INTERFACE artana_cxx_libraries)
  target_link_libraries(artana::spdlog INTERFACE artana_cxx_libraries)
  target_link_libraries(artana::simdjson INTERFACE artana_cxx_libraries)
  # An executable: nothing shared is left that needs libstdc++.so. Not under the sanitizers:
  # their runtime replaces operator new, which a static libstdc++ would define again. Not
  # libartana.so: an application linking it has a libstdc++.so of its own to share.
  if(NOT ARTANA_SANITIZE)
    add_link_options("$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:-static-libstdc++;-static-libgcc>")
  endif()
else()
  target_link_libraries(artana::fmt INTERFACE fmt::fmt)
  target_link_libraries(artana::spdlog INTERFACE spdlog::spdlog)
  target_link_libraries(artana::simdjson INTERFACE simdjson::simdjson)
endif()
