#!/usr/bin/env bash
# libartana.so.1 against its ABI-1 baseline (host/abi/libartana.so.1.abi): within ABI 1 a
# function may be added, none removed or changed (arguments, returns, the public structs they
# take). Usage: check-abi.sh LIBRARY SOURCE_DIR [--update]
#   --update rewrites the baseline from LIBRARY (when a new ABI major is cut).
set -euo pipefail
library=$1
source=$2
baseline="$source/host/abi/libartana.so.1.abi"
headers="$source/host/include/artana"
if [ "${3:-}" = "--update" ]; then
  abidw --exported-interfaces-only --headers-dir "$headers" --drop-private-types \
    --no-corpus-path --out-file "$baseline" "$library"
  # Paths relative to the source tree: the baseline does not name the machine it came from.
  sed -i -e "s|$(realpath "$source")/||g" -e "s|path='[^']*/build[^']*'|path='build'|g" "$baseline"
  echo "wrote $baseline"
  exit 0
fi
set +e
report=$(abidiff --exported-interfaces-only --headers-dir2 "$headers" --drop-private-types \
  "$baseline" "$library")
rc=$?
set -e
echo "$report"
# abidiff's exit status is a bit set: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
if (( rc & 3 )); then echo "abidiff failed ($rc)"; exit 1; fi
if (( rc & 8 )); then echo "an incompatible ABI change within ABI 1"; exit 1; fi
if grep -Eq '(Functions|Variables) changes summary: ([1-9][0-9]* Removed|[0-9]+ Removed, [1-9][0-9]* Changed)' <<<"$report"; then
  echo "a function or variable of ABI 1 was removed or changed"; exit 1
fi
echo "ABI 1 kept"
