# libartana.so.1 and libartana.a, and what `cmake --install` puts where (docs/embedding.md,
# "The package"). Both hold the C API and everything under it (host, kernel, Lua, fmt,
# spdlog, simdjson) and export artana_* only: an application's own Lua, fmt or spdlog never
# meets ours.

# ---- libartana.so.1: SONAME = the ABI major ----
add_library(artana_shared SHARED ${CMAKE_CURRENT_SOURCE_DIR}/src/capi/capi_library.c)
target_compile_options(artana_shared PRIVATE -g)  # as artana_capi: the ABI check reads it
target_link_libraries(artana_shared PRIVATE "$<LINK_LIBRARY:WHOLE_ARCHIVE,artana_capi>")
target_include_directories(artana_shared PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_SOURCE_DIR}/include>)
# Only artana_* leave the library, whatever the archives linked into it declare (a static
# libcrypto's, a dependency's default-visibility symbols).
set(artana_exports ${CMAKE_CURRENT_SOURCE_DIR}/src/capi/exports.map)
target_link_options(artana_shared PRIVATE "LINKER:--version-script=${artana_exports}"
  "LINKER:--no-undefined")
set_target_properties(artana_shared PROPERTIES
  OUTPUT_NAME artana
  VERSION ${PROJECT_VERSION}
  SOVERSION ${ARTANA_ABI_MAJOR}
  LINK_DEPENDS ${artana_exports})

# ---- libartana.a: one relocatable object of the same archives, hidden symbols made local ----
# A static archive of the archives would put Lua's lua_* (and fmt's, spdlog's) beside an
# application's own: the linker would refuse the duplicates or pick either. Linked once with
# `ld -r` and its hidden symbols localized, the archive shows the linker artana_* and the
# undefined references to the C and C++ runtimes, LMDB and libcrypto. Without debug sections:
# they would make it ten times larger (libartana.so keeps them).
set(artana_archives artana_capi artana_host artana_io artana_lua artana_kernel artana_lua54)
if(TARGET artana_cxx_libraries)
  list(APPEND artana_archives artana_cxx_libraries)
endif()
set(artana_archive_files "")
foreach(archive IN LISTS artana_archives)
  list(APPEND artana_archive_files "$<TARGET_FILE:${archive}>")
endforeach()
set(artana_static "${CMAKE_CURRENT_BINARY_DIR}/libartana.a")
set(artana_static_object "${CMAKE_CURRENT_BINARY_DIR}/artana_static.o")
add_custom_command(OUTPUT ${artana_static}
  COMMAND ${CMAKE_LINKER} -r -o ${artana_static_object} --whole-archive ${artana_archive_files}
  COMMAND ${CMAKE_OBJCOPY} --localize-hidden --strip-debug ${artana_static_object}
  COMMAND ${CMAKE_COMMAND} -E rm -f ${artana_static}
  COMMAND ${CMAKE_AR} qc ${artana_static} ${artana_static_object}
  COMMAND ${CMAKE_RANLIB} ${artana_static}
  DEPENDS ${artana_archives}
  COMMENT "Linking libartana.a"
  VERBATIM COMMAND_EXPAND_LISTS)
# Built by default except under the sanitizers (no test of that build links it; CI minutes).
if(ARTANA_SANITIZE)
  add_custom_target(artana_static DEPENDS ${artana_static})
else()
  add_custom_target(artana_static ALL DEPENDS ${artana_static})
endif()

# ---- install ----
install(TARGETS artana RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS artana_shared LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${artana_static} DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/artana/artana.h
  ${CMAKE_CURRENT_SOURCE_DIR}/include/artana/artana.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/artana)
install(FILES ${CMAKE_CURRENT_SOURCE_DIR}/include/artana/cxx/result.hpp
  ${CMAKE_CURRENT_SOURCE_DIR}/include/artana/cxx/callbacks.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/artana/cxx)
# The stdlib (require "artana.harness"), found from the binary or the library at
# ../share/artana (stdlib_location.cc).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/stdlib/ DESTINATION ${CMAKE_INSTALL_DATADIR}/artana
  FILES_MATCHING PATTERN "*.lua")

# What an application links besides the library: the static archive's undefined references.
set(ARTANA_STATIC_LIBS "-llmdb -lcrypto -lstdc++ -lm -ldl -lpthread")
include(CMakePackageConfigHelpers)
configure_package_config_file(${CMAKE_CURRENT_SOURCE_DIR}/package/artanaConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/package/artanaConfig.cmake
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/artana
  PATH_VARS CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_LIBDIR)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/package/artanaConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/artanaConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/package/artanaConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/artana)
# The prefix as seen from the .pc file's directory (lib/pkgconfig: ../..; Debian's
# lib/<multiarch>/pkgconfig: ../../..).
file(RELATIVE_PATH ARTANA_PC_PREFIX "/prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/prefix")
configure_file(${CMAKE_CURRENT_SOURCE_DIR}/package/artana.pc.in
  ${CMAKE_CURRENT_BINARY_DIR}/package/artana.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/package/artana.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
