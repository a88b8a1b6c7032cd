-- The enforced single step. Under `--policy enforced` the PII scrubber, the quota guard
-- and the capability guard run on every step. One model step with an output schema offers
-- `crm_note`, a tool that needs the `crm:write` capability:
--   * the e-mail address in the prompt reaches the port (which echoes what it received)
--     as [EMAIL_1], and the ledger records only the placeholder;
--   * without `--caps crm:write` the tool is not offered, so the model cannot call it;
--   * the port reports usage.cost_usd: the quota guard refuses a model with unknown cost.
--
--   artana --data /tmp/enf run samples/enforced_step/enforced_step.lua --policy enforced \
--     --caps crm:write --budget 1 --input '{"email": "ada@example.com"}'   # tool offered, called
--   artana --data /tmp/enf run samples/enforced_step/enforced_step.lua --policy enforced \
--     --budget 1 --input '{"email": "ada@example.com"}'                    # tool not offered
local artana = require "artana"

artana.tool { name = "crm_note", description = "adds a note to the contact's CRM record",
              args = { note = "string" }, capability = "crm:write",
              fn = function(args) return { saved = args.note } end }

-- A model with no network: it echoes what it was given, and calls every tool it is offered.
artana.model_port("policy-model", function(req)
  local offered, calls = {}, {}
  for _, tool in ipairs(req.tools) do
    offered[#offered + 1] = tool.name
    calls[#calls + 1] = { name = tool.name, arguments = { note = "follow-up sent" } }
  end
  print("port received prompt: " .. req.prompt)
  print("port offered tools: [" .. table.concat(offered, ",") .. "]")
  return { output = { ok = true }, tool_calls = artana.array(calls),
           usage = { prompt_tokens = 12, completion_tokens = 1, cost_usd = 0.002 } }
end)

return function(run, input)
  local r = run:model { model = "policy-model", step_key = "decide",
                        prompt = "Send a follow-up to " .. (input.email or "ada@example.com"),
                        schema = { ok = "boolean" }, tools = { "crm_note" } }
  local notes = {}
  for i, call in ipairs(r.tool_calls) do
    notes[i] = run:tool(call.name, call.arguments, { step_key = "note_" .. i }).result.saved
  end
  return { ok = r.output.ok, notes = artana.array(notes) }
end
