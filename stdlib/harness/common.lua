--- What the harness's parts share: which errors pass through untouched, how an error
-- becomes a summary value, and the run a method was given.
-- @module artana.harness.common
local artana = require "artana"

local M = {}


--- Whether a caught error is a halt or the host's own trouble (it must propagate as it is).
M.passes_through = artana.passes_through  -- the one list (the prelude)

--- An error as a summary value: {kind, message}. A plain error("text") is a script_error,
-- its message without the "file:line: " Lua put before it: a summary is a recorded step,
-- and code that only moved (a hot reload) must not make it drift.
function M.describe(err)
  if type(err) == "table" then
    local message = err.message
    if message == nil then message = "(no message)" end
    return { kind = type(err.kind) == "string" and err.kind or "script_error",
             message = tostring(message) }
  end
  local message = tostring(err)
  if type(err) == "string" then message = message:gsub("^[^\n]-:%d+: ", "", 1) end
  return { kind = "script_error", message = message }
end

--- The run a method was given: a hook's ctx (ctx.run) or the run object itself.
function M.run_of(target, what)
  if type(target) == "table" and rawget(target, "run") ~= nil then return target.run end
  if type(target) == "table" and getmetatable(target) == false then return target end
  artana.fail("invalid_argument", what .. ": the first argument is the hook's ctx (or the run)")
end

return M
