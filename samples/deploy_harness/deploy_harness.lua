-- deploy_harness: an incremental harness releasing a service in two units, "build" then
-- "deploy", one per wake, pausing between wakes (one wake per `artana resume`). Each unit
-- asks the "release-planner" model (a Lua port, no network) for a plan, then runs it with
-- the side-effecting tool run_stage, which prints `DEPLOYED <stage> <idempotency key>`.
-- Re-executing the run (a resume, a crash, another process) replays what is recorded:
-- the done unit is never worked on again and each stage runs once.
--
--   artana --data /tmp/deploy run samples/deploy_harness/deploy_harness.lua --run-id rel-1 \
--     --input '{"service": "billing", "version": "2.4.0"}'          # exit 3 after "build"
--   artana --data /tmp/deploy resume rel-1                           # exit 0 after "deploy"
local artana = require "artana"
local harness = require "artana.harness"

artana.tool { name = "run_stage", description = "runs one stage of a release",
              args = { stage = "string", service = "string", plan = "string" },
              side_effect = true, version = "1",
              fn = function(args, ctx)
                -- A real stage would hand ctx.idempotency_key to the CI system.
                print("DEPLOYED " .. args.stage .. " " .. ctx.idempotency_key)
                return { stage = args.stage, service = args.service, ok = true }
              end }

-- A planner with no network: one fixed plan per stage, read off the prompt.
artana.model_port("release-planner", function(req)
  local stage, service, version = req.prompt:match("^Plan the (%S+) stage of (%S+) (%S+)")
  print("planner called for " .. stage)
  local plans = { build = "compile " .. service .. " " .. version .. " and push the image",
                  deploy = "roll " .. service .. " " .. version .. " out to production" }
  return { output = { plan = plans[stage] }, usage = { prompt_tokens = 12, completion_tokens = 9 } }
end)

local h = harness.incremental {
  name = "release",
  model = "release-planner",
  between_wakes = "pause",
  define_tasks = function()
    return { { id = "build", description = "build and push the service's image" },
             { id = "deploy", description = "roll the new image out to production" } }
  end,
  work_on = function(h, unit, ctx)
    local service, version = ctx.input.service or "web", ctx.input.version or "1.0.0"
    local plan = h:model(ctx, { prompt = "Plan the " .. unit.id .. " stage of " .. service .. " " ..
                                  version, schema = { plan = "string" } })
    local ran = ctx.run:tool("run_stage", { stage = unit.id, service = service,
                                             plan = plan.output.plan })
    h:set_artifact("stage/" .. unit.id, { plan = plan.output.plan, ok = ran.result.ok })
  end,
}

return h:entry()
