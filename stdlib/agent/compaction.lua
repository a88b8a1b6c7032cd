--- agent.compaction: when the history grows past a trigger, its older turns become one
-- message, "Past Events Summary: <summary>", written by a model step.
--
-- The first message (the task) is never compacted: it is not a turn, and every later
-- summary is written against it. The window is every message after it but the newest
-- `keep_recent`, moved so that an assistant's tool-call message and its tool replies are
-- never split. A previous summary is part of the next window, so summaries chain.
--
-- The artifact `agent_compaction` = {window_hash, summary, version, model} keeps the latest
-- summary; window_hash = sha256(canonical_json({version, model, window})). A window whose
-- hash is the stored one reuses its summary with no model call.
--
-- Replay relies on the recorded steps' requests, never on a check of the agent's own: the
-- compaction's model request holds the whole window, and every turn's request holds the
-- summary and the messages kept. A window that changed since the run recorded it (new
-- code, another keep_recent) therefore changes a recorded request, and the kernel raises
-- replay_drift under the run's replay policy like any drift. That holds in the reuse path
-- too: a replay that summarises where the live run reused (a model call the ledger does
-- not hold, so it goes live) or reuses where the live run summarised puts another summary
-- or other kept messages into the next turn's recorded request, which drifts; if the text
-- came out the same, so does everything after it, and only that one call was extra. A
-- check of the agent's own (run.replaying around the call) would misfire when run:parallel
-- branches replay in another order than they ran live.
-- @module artana.agent.compaction
local artana = require "artana"
local fields = require "artana.agent.fields"
local common = require "artana.agent.common"

local M = {}
local Compaction = {}
Compaction.__index = Compaction
M.class = Compaction

--- The format of the window and of the request that summarises it: a change to either
-- must change the hash, so a stored summary is never reused for a window it did not see.
M.VERSION = 1
M.ARTIFACT = "agent_compaction"
M.PREFIX = "Past Events Summary: "

local INSTRUCTIONS = "You compact an agent's history. Summarise the past events below so " ..
  "the agent can go on with its task without them: what was tried, what tools returned, " ..
  "what was decided and what is still open. Keep facts, names and numbers exact. Answer " ..
  "{summary}."

--- agent.compaction{trigger_messages = 40, keep_recent = 10, max_context_tokens, model}
function M.new(spec)
  fields.check("agent.compaction", spec, {
    { "trigger_messages", type = "positive_integer" },
    { "keep_recent", type = "natural" },
    { "max_context_tokens", type = "positive_integer" },
    { "model", type = "string" },
  })
  return setmetatable({ trigger_messages = spec.trigger_messages or 40,
    keep_recent = spec.keep_recent or 10, max_context_tokens = spec.max_context_tokens,
    model = spec.model }, Compaction)
end

--- Whether the history is due: more messages than the trigger, or (with
-- max_context_tokens) more estimated tokens than that; the system message is not counted.
function Compaction:due(history)
  if #history > self.trigger_messages then return true end
  return self.max_context_tokens ~= nil and common.tokens(history) > self.max_context_tokens
end

-- The index of the last message of the window (history[2..last]), or nil when none.
local function window_end(self, history)
  local last = #history - self.keep_recent
  -- A tool reply must stay with the assistant message that asked for it.
  while last >= 2 and history[last + 1] ~= nil and history[last + 1].role == "tool" do
    last = last - 1
  end
  if last < 2 then return nil end
  return last
end

local function render(window)
  local lines = {}
  for i, message in ipairs(window) do
    local line = "[" .. message.role .. "] " .. tostring(message.content or "")
    if message.role == "tool" then line = "[tool " .. tostring(message.tool_call_id) .. "] " ..
      tostring(message.content or "") end
    if message.tool_calls ~= nil then
      line = line .. "\n  tool calls: " .. common.json_text(message.tool_calls)
    end
    lines[i] = line
  end
  return table.concat(lines, "\n")
end

local function summarise(run, model, window)
  local r = run:model { model = model, schema = { summary = "string" }, messages = {
    { role = "system", content = INSTRUCTIONS },
    { role = "user", content = "Past events:\n" .. render(window) },
  } }
  return r.output.summary
end

--- Compacts `history` if a window exists; returns the history to go on with. `model` is
-- the agent's model, used when the compaction names none. Call inside run:scope.
function Compaction:compact(run, history, model)
  local last = window_end(self, history)
  if last == nil then return history end
  model = self.model or model
  local window = table.move(history, 2, last, 1, {})
  local hash = artana.sha256(artana.canonical_json { version = M.VERSION, model = model,
    window = window })
  local stored = run:artifact(M.ARTIFACT)
  local summary
  if type(stored) == "table" and stored.window_hash == hash then
    summary = stored.summary
  else
    summary = summarise(run, model, window)
    run:artifact(M.ARTIFACT, { window_hash = hash, summary = summary, version = M.VERSION,
      model = model })
  end
  local compacted = { history[1], { role = "user", content = M.PREFIX .. summary } }
  table.move(history, last + 1, #history, 3, compacted)
  return compacted
end

return M
