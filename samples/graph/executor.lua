-- The graph sample's "backend" executor, run as a child run: its input is {plan = the
-- planner's output}; its output {text} is the node's value in the parent.
local artana = require "artana"

artana.model_port("builder", function(req)
  print("MODEL builder " .. req.prompt)
  return { output = { text = "done: " .. req.prompt },
           usage = { prompt_tokens = 6, completion_tokens = 4 } }
end)

return function(run, input)
  local r = run:model { model = "builder", prompt = input.plan.backend }
  return { text = r.output.text }
end
