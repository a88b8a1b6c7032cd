-- A pause for a human: the run asks for approval and stops (exit 3, status paused); a
-- resume gives it the person's answer, which run:pause returns, and the run completes.
--
--   artana --data /tmp/pause run samples/pause/pause.lua --run-id pay-1     # exit 3: paused
--   artana --data /tmp/pause resume pay-1 --input '"approved"'              # exit 0
local artana = require "artana"

artana.tool { name = "pay", description = "pays an approved amount", args = { amount = "number" },
              fn = function(args) return { paid = args.amount } end }

return function(run, input)
  local amount = input.amount or 12
  local decision = run:pause("approve?", { amount = amount })
  local paid = 0
  if decision == "approved" then paid = run:tool("pay", { amount = amount }).result.paid end
  return { decision = decision, paid = paid }
end
