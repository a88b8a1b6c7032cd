-- graph: a release note written by a graph of nodes (artana.orchestrate). A planner splits
-- the goal into two tasks; two executors work on them at once — "backend" is a child run
-- (executor.lua, with a port of its own), "docs" a function in this script — and a
-- validator reads both results. Every model is a Lua port (no network) that prints
-- `MODEL <port> <task>` when it is called, so a second execution, or one resumed after a
-- crash, shows which calls were made live.
--
--   artana --data /tmp/graph run samples/graph/graph.lua --run-id graph-1 \
--     --input '{"goal": "ship search v2"}'
--
-- The output is {plan, backend, docs, validate}: each node's output (orchestrate.graph).
-- The ledger holds one `orchestrate_node` summary per node (`ledger export graph-1`).
local artana = require "artana"
local orchestrate = require "artana.orchestrate"

artana.model_port("planner", function(req)
  local goal = req.prompt:match("^Plan: (.*)$")
  print("MODEL planner " .. goal)
  return { output = { backend = "build the index for " .. goal,
                      docs = "write the user guide for " .. goal },
           usage = { prompt_tokens = 8, completion_tokens = 16 } }
end)

artana.model_port("writer", function(req)
  print("MODEL writer " .. req.prompt)
  return { output = { text = "done: " .. req.prompt },
           usage = { prompt_tokens = 6, completion_tokens = 4 } }
end)

artana.model_port("validator", function(req)
  print("MODEL validator")
  local ok = req.prompt:find("done: build", 1, true) ~= nil and
    req.prompt:find("done: write", 1, true) ~= nil
  return { output = { approved = ok, note = ok and "both tasks are done" or "a task is missing" },
           usage = { prompt_tokens = 20, completion_tokens = 5 } }
end)

local function plan(run, input)
  return run:model { model = "planner", prompt = "Plan: " .. input.goal,
                     schema = { backend = "string", docs = "string" } }.output
end

-- A node's input is {[predecessor] = output}.
local function docs(run, preds)
  return run:model { model = "writer", prompt = preds.plan.docs }.output.text
end

local function validate(run, preds)
  local report = "backend: " .. preds.backend.text .. "\ndocs: " .. preds.docs
  return run:model { model = "validator", prompt = report,
                     schema = { approved = "boolean", note = "string" } }.output
end

return function(run, input)
  return orchestrate.graph(run, {
    nodes = { plan = plan, backend = { child = "executor.lua" }, docs = docs, validate = validate },
    edges = { { "plan", "backend" }, { "plan", "docs" },
              { "backend", "validate" }, { "docs", "validate" } },
    start = "plan",
  }, { goal = input.goal or "ship search v2" })
end
