-- supervisor: a supervisor harness releasing a service through two child runs at once
-- (h:children, over run:child): deployer.lua, with the supervisor's own capabilities, plans
-- the rollout and ships it; notes.lua, narrowed to notes:write, writes and publishes the
-- release notes and cannot ship. Then the supervisor's model (a Lua port, no network) sums
-- the release up. Each child is a run of its own, recorded as a step of this one (summary
-- supervisor_child {script, run_id, status}): a re-execution (a crash, another process)
-- goes on with the children where they were, and a finished child is never executed again.
--
--   artana --data /tmp/sup run samples/supervisor/supervisor.lua --run-id sup-1 \
--     --policy enforced --caps deploy:write,notes:write \
--     --input '{"service": "billing", "version": "2.4.0"}'
local artana = require "artana"
local harness = require "artana.harness"

artana.model_port("release-lead", function(req)
  print("lead called")
  return { output = { summary = "released " .. req.prompt:match("shipped (.-);") ..
                        " with its notes" },
           usage = { prompt_tokens = 20, completion_tokens = 6, cost_usd = 0.001 } }
end)

local h = harness.supervisor {
  name = "release",
  model = "release-lead",
  step = function(h, ctx)
    local job = { service = ctx.input.service or "web", version = ctx.input.version or "1.0.0" }
    local children = h:children(ctx, {
      { script = "deployer.lua", opts = { input = job } },
      { script = "notes.lua", opts = { input = job, caps = { "notes:write" } } },
    })
    local deployed, notes = children[1].output, children[2].output
    local lead = h:model(ctx, { schema = { summary = "string" },
                                prompt = "Sum up the release: shipped " .. deployed.shipped ..
                                  "; notes: " .. notes.notes })
    return { shipped = deployed.shipped, plan = deployed.plan, notes = notes.notes,
             published = notes.published, summary = lead.output.summary }
  end,
}

return h:entry()
