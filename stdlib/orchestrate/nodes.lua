--- What every orchestration mode shares: what a node may be, how one runs in its scope, and
-- the summary written after it.
--
-- A node is one of:
--   fn(run, input)                  a function; its value is what it returns
--   an agent (agent.new{...})       a:run(run, prompt); its value is the accepted answer's
--                                   output. The prompt is the input when it is a string, its
--                                   `text` when it has one, else its canonical JSON
--   a harness, or any object with   h:run(run, input); its value is what that returns
--   a run method
--   {child = script, caps = {...},  run:child(script, {caps, budget_usd, input}); its value
--    budget_usd = n}                is the child's output (a failed child: child_failed)
--
-- A harness keeps the state of the run it is running in itself: give concurrent nodes
-- (concurrent, graph) a harness object each. Agents keep none and may be shared.
-- @module artana.orchestrate.nodes
local artana = require "artana"
local agent = require "artana.agent"
local common = require "artana.agent.common"

local M = {}


--- Whether a caught error must propagate untouched (a halt, not a node's failure).
M.passes_through = artana.passes_through  -- the one list (the prelude)

local function bad(what, message)
  artana.fail("invalid_argument", what .. ": " .. message)
end

--- Refuses `run` unless it is the run object an entry gets (its metatable is hidden).
function M.check_run(run, what)
  if type(run) ~= "table" or getmetatable(run) ~= false then
    bad(what, "run must be the run object the entry was given")
  end
end

--- Whether `t` is a sequence 1..n with nothing else in it.
function M.is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for key in pairs(t) do
    if math.type(key) ~= "integer" or key < 1 or key > n then return false end
  end
  return true
end

--- Checks a node's name: an index, or a string that makes `<mode>:<name>` a scope name
-- (1..100 bytes, no '/').
function M.check_name(name, mode, what)
  if math.type(name) == "integer" then return end
  local room = 100 - #mode - 1
  if type(name) ~= "string" or name == "" or #name > room or name:find("/", 1, true) then
    bad(what, "node name " .. tostring(name) .. " must be a string of 1.." .. room ..
      " bytes without '/' (it names the scope " .. mode .. ":<name>)")
  end
end

local CHILD_FIELDS = { child = true, caps = true, budget_usd = true }

local function check_child(node, what)
  for key in pairs(node) do
    if not CHILD_FIELDS[key] then
      bad(what, "unknown field '" .. tostring(key) ..
        "' (a child node has child, caps, budget_usd)")
    end
  end
  if type(node.child) ~= "string" or node.child == "" then
    bad(what, "field 'child' must be a non-empty string (a script in this script's folder)")
  end
  if node.caps ~= nil then
    local ok = M.is_array(node.caps)
    for _, cap in ipairs(ok and node.caps or {}) do ok = ok and type(cap) == "string" end
    if not ok then bad(what, "field 'caps' must be an array of strings") end
  end
  if node.budget_usd ~= nil and (type(node.budget_usd) ~= "number" or node.budget_usd < 0) then
    bad(what, "field 'budget_usd' must be a number >= 0")
  end
end

local function call_function(node, run, input) return node(run, input) end

local function call_agent(node, run, input)
  return node:run(run, common.text_of(input)).output
end

local function call_object(node, run, input) return node:run(run, input) end

local function call_child(node, run, input)
  local caps = node.caps and table.move(node.caps, 1, #node.caps, 1, artana.array()) or nil
  return run:child(node.child, { caps = caps, budget_usd = node.budget_usd, input = input }).output
end

--- What `node` is, as a function(run, input) returning its value; refuses anything else
-- naming `what` (say "orchestrate.graph: nodes.plan").
function M.callable(node, what)
  local call
  if type(node) == "function" then
    call = call_function
  elseif type(node) == "table" and getmetatable(node) == agent.class then
    call = call_agent
  elseif type(node) == "table" and getmetatable(node) == nil and node.child ~= nil then
    check_child(node, what)
    call = call_child
  elseif type(node) == "table" and type(node.run) == "function" then
    call = call_object
  else
    bad(what, "a node is a function(run, input), an agent, a harness or {child = script, " ..
      "caps = {...}} (got " .. type(node) .. ")")
  end
  return function(run, input) return call(node, run, input) end
end

--- `{kind, message}` of a node's error (a plain error("text") is a script_error).
local function describe(err)
  if type(err) == "table" then
    return { kind = type(err.kind) == "string" and err.kind or "script_error",
             message = tostring(err.message or "(no message)") }
  end
  return { kind = "script_error", message = tostring(err) }
end

--- Runs `call(run, input)` in the current scope (the node's), then writes
-- orchestrate_node {mode, node, status, turn?, error?}; a failure is raised again after its
-- summary, a halt at once with none. `extra` adds fields to the summary (chat's turn).
function M.body(run, mode, name, call, input, extra)
  local ok, value = pcall(call, run, input)
  if not ok and M.passes_through(value) then error(value, 0) end
  local summary = { mode = mode, node = name, status = ok and "completed" or "failed",
                    error = not ok and describe(value) or nil }
  for key, field in pairs(extra or {}) do summary[key] = field end
  run:summary("orchestrate_node", summary)
  if not ok then error(value, 0) end
  return value
end

--- Runs a node in its own scope `<mode>:<name>` (see body).
function M.run(run, mode, name, call, input, extra)
  return run:scope(mode .. ":" .. tostring(name), function()
    return M.body(run, mode, name, call, input, extra)
  end)
end

--- Runs `calls` ({[name] = fn(run, input)}) at once through run:parallel, each in its scope
-- `<mode>:<name>` (the branch's), node `name` given `inputs[name]`. Returns {[name] = value}.
-- Branches start, and their errors rank, in name order (integers, then strings bytewise).
function M.parallel(run, mode, calls, inputs, max_concurrency)
  local branches, names = {}, {}
  for name, call in pairs(calls) do
    local key = mode .. ":" .. tostring(name)
    names[key] = name
    branches[key] = function() return M.body(run, mode, name, call, inputs[name]) end
  end
  local options = max_concurrency and { max_concurrency = max_concurrency } or nil
  local results = run:parallel(branches, options)
  local out = {}
  for key, name in pairs(names) do out[name] = results[key] end
  return out
end

return M
