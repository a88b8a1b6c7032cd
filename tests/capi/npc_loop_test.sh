#!/usr/bin/env bash
# samples/embed/npc_loop as the README runs it: NPC episodes finish frame after frame, and a
# hot reload mid-game reports every live run once (unchanged: continued; an edited prompt
# under the strict policy: halted by drift).
# Usage: npc_loop_test.sh NPC_LOOP SOURCE_DIR
set -euo pipefail
bin=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/artana-npc.XXXXXX")
trap 'rm -rf "$work"' EXIT
field() { grep -o "\"$1\":[0-9]*" <<<"$2" | head -1 | cut -d: -f2; }
# A generous budget: what is tested here is the episodes and the reports, not the budget (a
# tick keeps it: tests/host/tick_budget_test.cc, bench/embed), and a sanitizer build runs
# each slice ~10x slower.
budget=50000

out=$("$bin" --npcs 100 --frames 90 --budget-us "$budget" --data-dir "$work/plain" --script "$source/samples/embed/npc.lua" --json)
echo "$out"
[ "$(field episodes "$out")" -ge 100 ] || { echo "fewer episodes than NPCs"; exit 1; }

cp "$source/samples/embed/npc.lua" "$work/same.lua"
out=$("$bin" --npcs 100 --frames 60 --budget-us "$budget" --data-dir "$work/same" --script "$source/samples/embed/npc.lua" \
  --reload-at "20:$work/same.lua" --json)
echo "$out"
[ "$(field continued "$out")" -ge 1 ] || { echo "no run told continued"; exit 1; }
for other in drift_allowed forked halted_drift halted_error; do
  [ "$(field "$other" "$out")" = 0 ] || { echo "unchanged code reported $other"; exit 1; }
done

sed 's/prompt = "npc "/prompt = "NPC "/' "$source/samples/embed/npc.lua" >"$work/edited.lua"
out=$("$bin" --npcs 100 --frames 60 --budget-us "$budget" --data-dir "$work/edited" --script "$source/samples/embed/npc.lua" \
  --reload-at "20:$work/edited.lua" --json)
echo "$out"
[ "$(field halted_drift "$out")" -ge 1 ] || { echo "no run halted by the edited prompt"; exit 1; }
[ "$(field halted_error "$out")" = 0 ] || { echo "a run halted by an error"; exit 1; }
echo "npc_loop: episodes run, reloads told"
