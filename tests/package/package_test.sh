#!/usr/bin/env bash
# The installed package as an application meets it (issue 14, "Package"): installed to a
# temporary prefix and moved elsewhere (relocatable), libartana.so exporting artana_* only,
# a C program and both embedding samples built out of tree with find_package (shared and
# static) and with pkg-config,
# and an app embedding its own Lua 5.3 (-rdynamic) running a run through libartana.so.
# Usage: package_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/artana-package.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/first" >/dev/null
mv "$work/first" "$work/moved"
prefix="$work/moved"
lib="$prefix/lib"

for f in include/artana/artana.h include/artana/artana.hpp include/artana/cxx/result.hpp \
  include/artana/cxx/callbacks.hpp bin/artana share/artana/harness.lua \
  lib/libartana.a lib/cmake/artana/artanaConfig.cmake lib/cmake/artana/artanaConfigVersion.cmake \
  lib/pkgconfig/artana.pc; do
  [ -e "$prefix/$f" ] || { echo "missing from the install: $f"; exit 1; }
done
# SONAME = the ABI major.
soname=$(objdump -p "$lib/libartana.so" | awk '/SONAME/ {print $2}')
[ "$soname" = "libartana.so.1" ] || { echo "SONAME is '$soname', not libartana.so.1"; exit 1; }
# Only artana_* leave the library (the version node ARTANA_1 is not a symbol of code).
exported=$(nm -D --defined-only "$lib/libartana.so" | awk '$2 != "A" {sub(/@.*/, "", $3); print $3}')
others=$(grep -v '^artana_' <<<"$exported" || true)
[ -z "$others" ] || { echo "libartana.so exports more than artana_*:"; head -20 <<<"$others"; exit 1; }
grep -q '^artana_run_start$' <<<"$exported" || { echo "artana_run_start is not exported"; exit 1; }
# No absolute path of the first prefix in what was installed for tools to read.
if grep -rl "$work/first" "$lib/cmake" "$lib/pkgconfig"; then
  echo "the package files name the prefix they were installed to"; exit 1
fi

# find_package, out of tree: shared (stdlib found beside the library) and static (the
# package names the stdlib's place).
cmake -S "$source/tests/package" -B "$work/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DSAMPLES_DIR="$source/samples/embed" >/dev/null
cmake --build "$work/consumer" >/dev/null
"$work/consumer/consumer_shared" "$work/ledger-shared"
"$work/consumer/consumer_static" "$work/ledger-static" "$(cat "$work/consumer/stdlib_dir.txt")"

# The two samples as an application builds them: npc_loop's episodes finish, tool_cli counts.
mkdir -p "$work/words"
printf 'one two three\nfour\n' >"$work/words/a.txt"
run_samples() {  # DIR: where the two samples were built
  local npc
  npc=$("$1/npc_loop" --npcs 10 --frames 60 --data-dir "$work/npc-$2" \
    --script "$source/samples/embed/npc.lua" --json)
  grep -Eq '"episodes":[1-9]' <<<"$npc" || { echo "npc_loop ($2) finished no episode: $npc"; exit 1; }
  local words
  words=$("$1/tool_cli" --workspace "$work/words" --input '{"paths":["a.txt"]}' \
    --data-dir "$work/tool-$2")
  grep -q '"total":4' <<<"$words" || { echo "tool_cli ($2) counted wrong: $words"; exit 1; }
}
run_samples "$work/consumer" cmake

# pkg-config: the .pc finds its prefix from its own place.
export PKG_CONFIG_PATH="$lib/pkgconfig"
cc -std=c11 -o "$work/consumer_pc" "$source/tests/package/consumer.c" \
  $(pkg-config --cflags --libs artana) -Wl,-rpath,"$(pkg-config --variable=libdir artana)"
"$work/consumer_pc" "$work/ledger-pc"
mkdir -p "$work/pc"
cc -std=c11 -o "$work/pc/npc_loop" "$source/samples/embed/npc_loop.c" \
  $(pkg-config --cflags --libs artana) -Wl,-rpath,"$lib"
c++ -std=c++17 -o "$work/pc/tool_cli" "$source/samples/embed/tool_cli/tool_cli.cpp" \
  $(pkg-config --cflags --libs artana) -Wl,-rpath,"$lib"
run_samples "$work/pc" pc

# An app with its own Lua 5.3, static and exported: our Lua stays ours.
cc -std=c11 -o "$work/lua53_app" "$source/tests/package/lua53_app.c" -rdynamic \
  "$(cc -print-file-name=liblua5.3.a)" -lm -ldl \
  $(pkg-config --cflags --libs artana) -Wl,-rpath,"$lib"
app_exports=$(nm -D --defined-only "$work/lua53_app")
grep -q ' lua_newstate$' <<<"$app_exports" || { echo "the Lua 5.3 app does not export its lua_*"; exit 1; }
"$work/lua53_app" "$work/ledger-lua53"
echo "package: installed, moved, linked four ways, the samples built twice, run"
