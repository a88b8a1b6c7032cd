#!/usr/bin/env bash
# samples/embed/tool_cli as the README runs it: the native count_words tool counts a
# workspace's files; the same --run-id replays from the ledger without calling the tool;
# a path that leaves the workspace fails the run, naming it.
# Usage: tool_cli_test.sh TOOL_CLI
set -euo pipefail
bin=$1
work=$(mktemp -d "${TMPDIR:-/tmp}/artana-tool-cli.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ws/docs"
printf 'the quick brown fox\n' >"$work/ws/a.txt"
printf 'jumps over\nthe lazy dog\n' >"$work/ws/docs/b.txt"
printf 'secret words here\n' >"$work/outside.txt"
cd "$work"

out=$("$bin" --workspace ws --input '{"paths":["a.txt","docs/b.txt"]}' --run-id count-1 2>err.txt)
grep -q '"total":9' <<<"$out" || { echo "first run: $out"; cat err.txt; exit 1; }
grep -q 'count_words called 2 times' err.txt || { echo "first run calls:"; cat err.txt; exit 1; }
[ -d .artana ] || { echo "no ledger in ./.artana"; exit 1; }

# The files change; the recorded run does not: replayed, the tool is not called.
printf 'one\n' >"$work/ws/a.txt"
again=$("$bin" --workspace ws --input '{"paths":["a.txt","docs/b.txt"]}' --run-id count-1 2>err.txt)
[ "$again" = "$out" ] || { echo "replay differs: $again vs $out"; exit 1; }
grep -q 'count_words called 0 times' err.txt || { echo "replay calls:"; cat err.txt; exit 1; }

# A new run sees the new file.
new=$("$bin" --workspace ws --input '{"paths":["a.txt"]}' 2>err.txt)
grep -q '"total":1' <<<"$new" || { echo "new run: $new"; exit 1; }

# Outside the workspace: the step fails, the run fails, the path is named.
if "$bin" --workspace ws --input '{"paths":["../outside.txt"]}' >out.txt 2>err.txt; then
  echo "a path outside the workspace was counted: $(cat out.txt)"; exit 1
fi
grep -q '../outside.txt' err.txt || { echo "the refusal does not name the path:"; cat err.txt; exit 1; }

# Bad flags exit 2, naming the problem.
set +e
"$bin" --input '{}' 2>err.txt; rc=$?
set -e
[ "$rc" = 2 ] && grep -q -- '--workspace is required' err.txt || { echo "rc $rc:"; cat err.txt; exit 1; }
echo "tool_cli: counted, replayed without the tool, refused outside the workspace"
