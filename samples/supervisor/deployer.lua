-- A child of supervisor.lua, with the supervisor's capabilities: a model port (no network)
-- plans the rollout, then the side-effecting tool `ship` rolls the version out.
local artana = require "artana"
require "release_tools"

artana.model_port("deploy-planner", function(req)
  print("planner called")
  return { output = { plan = "canary 10%, then all of " .. req.prompt:match("of (%S+)") },
           usage = { prompt_tokens = 10, completion_tokens = 8, cost_usd = 0.001 } }
end)

return function(run, input)
  local plan = run:model { model = "deploy-planner", schema = { plan = "string" },
                           prompt = "Plan the rollout of " .. input.service .. " " .. input.version }
  local shipped = run:tool("ship", { service = input.service, version = input.version })
  return { plan = plan.output.plan, shipped = shipped.result.shipped }
end
