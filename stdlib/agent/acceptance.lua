--- How an agent decides a candidate answer is done: acceptance gates (tools whose result
-- must pass) and, under loop = {draft_model, verify_model}, a verifier model.
-- @module artana.agent.acceptance
local artana = require "artana"
local fields = require "artana.agent.fields"
local common = require "artana.agent.common"

local M = {}
local Gate = {}
Gate.__index = Gate
M.class = Gate

--- agent.tool_gate{tool, args, must_pass = true, path, equals}: the gate passes when the
-- tool's result at `path` (dotted, into the result; a numeric part indexes an array)
-- equals `equals` (true when not given); with no path, when the result has passed == true,
-- ok == true or exit_code == 0. A failing must_pass gate refuses the candidate; one that
-- need not pass is only recorded. `args` may be a function of the candidate's output (a
-- test of the answer itself); it is called each time the gate runs, so it must be pure.
function M.tool_gate(spec)
  fields.check("agent.tool_gate", spec, {
    { "tool", type = "string", required = true },
    { "args", check = function(v) return type(v) == "table" or type(v) == "function" end,
      expects = "a table of the tool's arguments, or a function(output) returning one" },
    { "must_pass", type = "boolean" },
    { "path", type = "string" },
    { "equals", check = function() return true end },
  })
  if spec.equals ~= nil and spec.path == nil then
    artana.fail("invalid_argument", "agent.tool_gate: field 'equals' needs a 'path' to compare")
  end
  local equals = spec.equals
  if spec.path ~= nil and equals == nil then equals = true end
  return setmetatable({ tool = spec.tool, args = spec.args, must_pass = spec.must_pass ~= false,
    path = spec.path, equals = equals }, Gate)
end

local function at_path(value, path)
  for part in path:gmatch("[^.]+") do
    if type(value) ~= "table" then return nil end
    local next_value = value[part]
    if next_value == nil and tonumber(part) ~= nil then next_value = value[tonumber(part)] end
    value = next_value
  end
  return value
end

local function same(a, b)
  if type(a) == "table" and type(b) == "table" then
    return artana.canonical_json(a) == artana.canonical_json(b)
  end
  return a == b
end

--- Whether a gate's tool result passes.
function Gate:passes(result)
  if self.path ~= nil then return same(at_path(result, self.path), self.equals) end
  return type(result) == "table" and
    (result.passed == true or result.ok == true or result.exit_code == 0)
end

-- Runs one gate: whether it passed, and what it showed (its result's JSON, or its error).
-- A tool that fails passes nothing; a halt ends the run, and invalid_argument (a gate tool
-- not registered, or args it refuses) is the script's mistake, not the candidate's.
local function run_gate(run, gate, output)
  local args = gate.args
  if type(args) == "function" then args = args(output) end
  local ok, r = pcall(run.tool, run, gate.tool, args)
  if ok then return gate:passes(r.result), common.json_text(r.result) end
  if common.is_halt(r) or (type(r) == "table" and r.kind == "invalid_argument") then
    error(r, 0)
  end
  local e = common.error_fields(r)
  return false, e.kind .. ": " .. e.message
end

--- Runs every gate in order, recording agent_acceptance_gate {turn, tool, passed} for each.
-- Returns nil when the candidate may go on, else the reason it is refused.
function M.run_gates(run, gates, turn, agent_name, output)
  local reasons = {}
  for _, gate in ipairs(gates) do
    local passed, shown = run_gate(run, gate, output)
    run:summary("agent_acceptance_gate", { agent = agent_name, turn = turn, tool = gate.tool,
      passed = passed })
    if not passed and gate.must_pass then
      reasons[#reasons + 1] = ("Acceptance gate '%s' failed: %s"):format(gate.tool, shown)
    end
  end
  if #reasons == 0 then return nil end
  return table.concat(reasons, "\n")
end

local VERIFY_INSTRUCTIONS = "You verify an agent's answer. Accept it only if it fully and " ..
  "correctly completes the task; otherwise say what is wrong or missing. Answer " ..
  "{accepted, reasoning}."

--- Asks the verify model about a candidate; records agent_verify_step. Returns nil when
-- it accepts, else its reasoning.
function M.verify(run, model, facts)
  local r = run:model { model = model, schema = { accepted = "boolean", reasoning = "string" },
    messages = {
      { role = "system", content = VERIFY_INSTRUCTIONS },
      { role = "user", content = "Task:\n" .. facts.task .. "\n\nCandidate answer:\n" ..
        facts.candidate },
    } }
  local accepted, reasoning = r.output.accepted, r.output.reasoning
  run:summary("agent_verify_step", { agent = facts.agent, turn = facts.turn, model = model,
    accepted = accepted, reasoning = reasoning })
  if accepted then return nil end
  return reasoning
end

return M
