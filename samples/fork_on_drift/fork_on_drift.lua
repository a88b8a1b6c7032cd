-- Fork on drift: the prompt is the PROMPT line below. Run the script, edit that line, and
-- run the same run id again: the recorded step no longer matches the code, and under
-- `--replay fork_on_drift` the run continues in a fork `<run>::fork::<12 hex>` that shares
-- the history up to that step and calls the model live with the new prompt; the original
-- run records one `replayed_with_drift` naming the fork. Under the default strict policy
-- the same edit is refused as `replay_drift` (the run needs attention until the code is
-- fixed).
--
--   cp -r samples/fork_on_drift /tmp/fod && cd /tmp/fod
--   artana --data .artana run fork_on_drift.lua --run-id fod-1
--   sed -i 's/in one line"/in one word"/' fork_on_drift.lua
--   artana --data .artana run fork_on_drift.lua --run-id fod-1 --replay fork_on_drift
--   artana --data .artana --json runs                         # fod-1 and fod-1::fork::…
--   artana --data .artana ledger export fod-1 | grep replayed_with_drift
local artana = require "artana"

local PROMPT = "Summarise the ledger in one line"

artana.model_port("summariser", function(req)
  print("port call: " .. req.prompt)
  return { output = { text = "summary of '" .. req.prompt .. "'" },
           usage = { prompt_tokens = 6, completion_tokens = 3 } }
end)

return function(run)
  local started_at = run:now() -- recorded before the drifting step: the fork shares it
  local summary = run:model { model = "summariser", prompt = PROMPT, step_key = "summary" }
  -- summary.run_id is the run the step was recorded in, and run.id the run going on now:
  -- both the fork's id after a drift.
  return { summary = summary.output.text, recorded_in = summary.run_id, run_id = run.id,
           started_at = started_at }
end
