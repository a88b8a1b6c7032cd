--- What the agent's parts share: which errors are halts, how a value becomes message text,
-- and the token estimate budgets and compaction are measured in.
-- @module artana.agent.common
local artana = require "artana"

local M = {}

-- Errors that end the run whatever the script does: a caught one raises again at the next
-- syscall, so an agent that treated one as a failed tool would only be confused later.

--- Whether a caught error is a halt (it must propagate untouched).
M.is_halt = artana.passes_through  -- the one list (the prelude)

--- `{kind, message}` of a caught error that is not a halt (a string error is a script_error).
function M.error_fields(err)
  if type(err) == "table" then
    return { kind = tostring(err.kind or "script_error"), message = tostring(err.message or "") }
  end
  return { kind = "script_error", message = tostring(err) }
end

--- A value as JSON text (RFC 8785); nil is "null".
function M.json_text(value)
  if value == nil then return "null" end
  return artana.canonical_json(value)
end

--- A model's output as message text: its `text` when it has one (no schema), else its JSON.
function M.text_of(output)
  if type(output) == "string" then return output end
  if type(output) == "table" and type(output.text) == "string" then return output.text end
  return M.json_text(output)
end

local function chars(s)
  return utf8.len(s) or #s -- not UTF-8: count bytes, an overestimate never an underestimate
end

--- The estimated tokens of a list of messages: their UTF-8 characters / 4, rounded up. A
-- message counts its content and, for an assistant's tool calls, their JSON text.
function M.tokens(messages)
  local total = 0
  for _, message in ipairs(messages) do
    if type(message.content) == "string" then total = total + chars(message.content) end
    if message.tool_calls ~= nil then total = total + chars(M.json_text(message.tool_calls)) end
  end
  return (total + 3) // 4
end

return M
