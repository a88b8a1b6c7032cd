-- The golden example: a model plans a charge, a side-effecting tool makes it, a second
-- model step writes the receipt. The tool acts once per idempotency key (it prints
-- "CHARGED <key>"); if the process dies after the charge but before its completion is
-- recorded, the outcome is unknown and the kernel never re-runs the tool by itself: the
-- run halts (exit 4, reconciliation_required) until an operator settles the step.
--
--   (ARTANA_CRASH_AT needs a build with -DARTANA_FAULT_INJECTION=ON, as `bash .ci/test` makes)
--   export ARTANA_HOME=/tmp/golden
--   ARTANA_CRASH_AT=tool.end:1 artana run samples/golden/golden.lua --run-id order-7  # killed
--   artana run samples/golden/golden.lua --run-id order-7          # exit 4: reconcile "charge"
--   artana reconcile order-7 --step charge --outcome success \
--     --result '{"charge_id": "ch_manual", "amount": 12.5}'         # what the processor says
--   artana run samples/golden/golden.lua --run-id order-7          # exit 0, receipt for ch_manual
local artana = require "artana"

artana.tool { name = "charge_card", description = "charges the customer's card",
              args = { customer = "string", amount = "number" }, side_effect = true,
              fn = function(args, ctx)
                -- A real processor would be given ctx.idempotency_key and refuse a repeat.
                print("CHARGED " .. ctx.idempotency_key)
                return { charge_id = "ch_" .. ctx.idempotency_key:sub(1, 12), amount = args.amount }
              end }

-- A model with no network: a fixed plan, and a receipt naming the charge it is shown.
artana.model_port("billing", function(req)
  local output = req.prompt:find("^Plan") and { customer = "cus_42", amount = 12.5 }
    or { text = "Receipt: " .. req.prompt:match("charge (%S+)") }
  return { output = output, usage = { prompt_tokens = 8, completion_tokens = 4 } }
end)

return function(run, input)
  local order = input.order or "order-7"
  local plan = run:model { model = "billing", prompt = "Plan the charge for " .. order,
                           schema = { customer = "string", amount = "number" }, step_key = "plan" }
  local charge = run:tool("charge_card", plan.output, { step_key = "charge" })
  local receipt = run:model { model = "billing", step_key = "receipt",
                              prompt = "Write the receipt for charge " .. charge.result.charge_id,
                              schema = { text = "string" } }
  return { charge = charge.result, receipt = receipt.output.text }
end
