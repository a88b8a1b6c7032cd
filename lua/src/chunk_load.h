// Loading script text as a Lua chunk, as the `lua` program reads a file: a UTF-8 byte order
// mark and a first line starting with '#' (`#!/usr/bin/env artana`) are skipped, line
// numbers unchanged. Text only: a precompiled (binary) chunk is refused naming the chunk.
#pragma once

#include <string_view>

#include "artana/lua/lua_fwd.h"

namespace artana::lua::detail {

// lua_load of `source` as text named `chunkname` ("@file.lua" or "=name"). Pushes the
// function (LUA_OK) or the error message (LUA_ERRSYNTAX, LUA_ERRMEM), as lua_load does.
// [-0, +1, m]
int load_text_chunk(lua_State* L, std::string_view source, const char* chunkname);

}  // namespace artana::lua::detail
