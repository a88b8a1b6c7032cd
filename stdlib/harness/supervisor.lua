--- The supervisor: a base harness whose step starts child runs.
--
-- h:child(ctx, script, opts) runs ctx.run:child(script, opts) (opts = {run_id, caps,
-- budget_usd, input, step_key}, caps = {} for a child with no capability; it returns
-- {output, status, run_id, replayed}) and writes the summary supervisor_child {script,
-- run_id, status}. A child that fails or is cancelled raises child_failed, after the
-- summary with its status ("failed" or "cancelled"); a child refused before it starts
-- (capability_denied: a child gets at most its parent's capabilities; invalid_argument; a
-- budget over what is left, a halt) has no run and no summary. A child that pauses or sleeps
-- holds the supervisor's run, which stops with the child's status until the child is resumed
-- or woken; then both go on.
--
-- h:children(ctx, list) runs several at once through run:parallel, results in the list's
-- order; a list item is a script path or {script = path, opts = {...}}. The first failure in
-- list order is what it raises (see run:parallel).
--
-- The child's step is recorded in the supervisor's run: a re-execution gets a finished
-- child's result from the ledger without executing the child again.
-- @module artana.harness.supervisor
local artana = require "artana"
local base = require "artana.harness.base"
local common = require "artana.harness.common"
local fields = require "artana.harness.fields"

local fail = artana.fail

local M = {}

local Supervisor = setmetatable({}, { __index = base.Base })
Supervisor.__index = Supervisor
M.Supervisor = Supervisor

-- The child run and how it ended, from run:child's child_failed ("child run '<id>'
-- <status>: <kind>: <message>"); the error carries no field of its own for them.
local function failed_child(err, opts)
  local message = type(err.message) == "string" and err.message or ""
  local run_id, status = message:match("^child run '([^']+)' (%a+):")
  if run_id == nil and opts ~= nil then run_id = opts.run_id end
  if status ~= "cancelled" then status = "failed" end
  return run_id, status
end

-- opts as run:child takes them. An empty caps table (a child with no capability at all) is
-- an empty JSON object to the host, which wants a list: it is given as an empty array.
local function child_options(opts)
  if opts == nil or type(opts.caps) ~= "table" or next(opts.caps) ~= nil then return opts end
  local copy = {}
  for key, value in pairs(opts) do copy[key] = value end
  copy.caps = artana.array()
  return copy
end

function Supervisor:child(ctx, script, opts)
  local run = common.run_of(ctx, "h:child(ctx, script, opts)")
  if type(script) ~= "string" or script == "" then
    fail("invalid_argument", "h:child(ctx, script, opts): script must be a non-empty string")
  end
  if opts ~= nil and type(opts) ~= "table" then
    fail("invalid_argument", "h:child(ctx, script, opts): opts must be a table")
  end
  if run.child == nil then
    fail("harness_state", "h:child needs run:child, which this host does not provide")
  end
  local ok, result = pcall(run.child, run, script, child_options(opts))
  if not ok then
    if type(result) == "table" and result.kind == "child_failed" then
      local run_id, status = failed_child(result, opts)
      run:summary("supervisor_child", { script = script, run_id = run_id, status = status })
    end
    error(result, 0)
  end
  run:summary("supervisor_child", { script = script, run_id = result.run_id,
                                    status = result.status })
  return result
end

local function child_item(item, i)
  if type(item) == "string" then return item, nil end
  if type(item) == "table" then
    for key in pairs(item) do
      if key ~= "script" and key ~= "opts" then
        fail("invalid_argument", "h:children: item #" .. i .. " has an unknown field '" ..
          tostring(key) .. "' (script, opts)")
      end
    end
    return item.script, item.opts
  end
  fail("invalid_argument", "h:children: item #" .. i .. " is a script or {script, opts}")
end

function Supervisor:children(ctx, list)
  local run = common.run_of(ctx, "h:children(ctx, list)")
  if type(list) ~= "table" then
    fail("invalid_argument", "h:children(ctx, list): list must be a table")
  end
  local size = 0
  for _ in pairs(list) do size = size + 1 end
  if size ~= #list then
    fail("invalid_argument", "h:children(ctx, list): list must be a list (1..n)")
  end
  local branches = {}
  for i, item in ipairs(list) do
    local script, opts = child_item(item, i)
    branches[i] = function() return self:child(ctx, script, opts) end
  end
  if #branches == 0 then return artana.array() end
  return run:parallel(branches)
end

--- harness.supervisor(spec): a base harness's fields (step required).
function M.new(spec)
  return base.new_harness(Supervisor, fields.checked_spec(spec, fields.BASE, { "step" },
    "harness.supervisor"))
end

return M
