--- agent.context: the one system message a turn starts with, and what it may drop to fit a
-- token budget.
--
-- Sections, in order, separated by a blank line (an empty one is left out): the identity,
-- the system prompt, "Workspace Context / Active Plan:" and the workspace file's text,
-- "Learnings:" (the experience rules), "Task State:" (the units), "Recent Events:" (the
-- latest summaries of a kind in this run), "Skills:" (the skills panel). Over
-- `token_budget` the recent events go first, then the learnings, then the workspace text;
-- what stays (identity, prompt, units, skills) is what the agent cannot work without.
-- @module artana.agent.context
local artana = require "artana"
local fields = require "artana.agent.fields"
local common = require "artana.agent.common"

local M = {}
local Context = {}
Context.__index = Context
M.class = Context

local RECENT_FIELDS = {
  { "kind", type = "string", required = true },
  { "limit", check = function(v) return math.type(v) == "integer" and v >= 1 and v <= 1000 end,
    expects = "an integer from 1 to 1000" },
}

local UNIT_FIELDS = {
  { "id", check = function(v) return (type(v) == "string" and v ~= "") or math.type(v) == "integer" end,
    expects = "a non-empty string or an integer", required = true },
  { "description", type = "string", required = true },
  { "state", type = "string", required = true },
}

local function check_units(units, what)
  if not fields.is_array(units) then
    artana.fail("invalid_argument", what .. " must be an array of units {id, description, state}")
  end
  for i, unit in ipairs(units) do fields.check(what .. "[" .. i .. "]", unit, UNIT_FIELDS) end
  return units
end

--- agent.context{identity, system_prompt, workspace_context_path, task_state,
-- recent_events = {kind, limit}, token_budget}
function M.new(spec)
  fields.check("agent.context", spec, {
    { "identity", type = "string" },
    { "system_prompt", type = "string" },
    { "workspace_context_path", type = "string" },
    { "task_state", check = function(v) return type(v) == "table" or type(v) == "function" end,
      expects = "an array of units {id, description, state} or a function returning one" },
    { "recent_events", type = "table" },
    { "token_budget", type = "positive_integer" },
  })
  if type(spec.task_state) == "table" then check_units(spec.task_state, "agent.context: task_state") end
  if spec.recent_events ~= nil then
    fields.check("agent.context: recent_events", spec.recent_events, RECENT_FIELDS)
  end
  return setmetatable({ identity = spec.identity, system_prompt = spec.system_prompt,
    workspace_context_path = spec.workspace_context_path, task_state = spec.task_state,
    recent_events = spec.recent_events, token_budget = spec.token_budget }, Context)
end

local function section(title, lines)
  if #lines == 0 then return nil end
  return title .. "\n" .. table.concat(lines, "\n")
end

local function learnings_section(rules)
  local lines = {}
  for i, rule in ipairs(rules or {}) do
    lines[i] = ("- [%s] %s"):format(rule.type, rule.content)
  end
  return section("Learnings:", lines)
end

-- The units now: a function is asked each turn (the plan moves as the agent works).
local function task_state_section(self, run)
  local units = self.task_state
  if type(units) == "function" then
    units = check_units(units(run), "agent.context: task_state()")
  end
  local lines = {}
  for i, unit in ipairs(units or {}) do
    lines[i] = ("- [%s] %s: %s"):format(unit.state, tostring(unit.id), unit.description)
  end
  return section("Task State:", lines)
end

local function recent_section(self, run)
  local recent = self.recent_events
  if recent == nil then return nil end
  local hits = run:lookup { kind = recent.kind, limit = recent.limit }
  local lines = {}
  for i, hit in ipairs(hits) do
    local value = type(hit.value) == "string" and hit.value or common.json_text(hit.value)
    lines[i] = ("- %s: %s"):format(hit.key, value)
  end
  return section("Recent Events:", lines)
end

local function workspace_section(self, run)
  local path = self.workspace_context_path
  if path == nil then return nil end
  local file = run:read_file(path)
  if not file.exists or type(file.text) ~= "string" or file.text == "" then return nil end
  return "Workspace Context / Active Plan:\n" .. file.text
end

-- The order the sections appear in, and (DROP_ORDER) the order they go when over budget.
local ORDER = { "identity", "prompt", "workspace", "learnings", "task_state", "recent", "skills" }
local DROP_ORDER = { "recent", "learnings", "workspace" }

local function join(parts)
  local out = {}
  for _, name in ipairs(ORDER) do
    if parts[name] ~= nil and parts[name] ~= "" then out[#out + 1] = parts[name] end
  end
  return table.concat(out, "\n\n")
end

local function with_system(text, history)
  local messages = {}
  if text ~= "" then messages[1] = { role = "system", content = text } end
  for _, message in ipairs(history) do messages[#messages + 1] = message end
  return messages
end

--- The messages of a turn: the system message, then the history. `inputs` carries what
-- the agent owns: system_prompt (when the context has none), learnings (ranked rules),
-- skills_panel (text or nil) and history. Every section is gathered (the file read and
-- the lookup are steps, made every turn in the same order) before any is dropped.
function Context:messages(run, inputs)
  local parts = {
    identity = self.identity,
    prompt = self.system_prompt or inputs.system_prompt,
    workspace = workspace_section(self, run),
    learnings = learnings_section(inputs.learnings),
    task_state = task_state_section(self, run),
    recent = recent_section(self, run),
    skills = inputs.skills_panel,
  }
  local messages = with_system(join(parts), inputs.history)
  if self.token_budget == nil then return messages end
  for _, name in ipairs(DROP_ORDER) do
    if common.tokens(messages) <= self.token_budget then break end
    parts[name] = nil
    messages = with_system(join(parts), inputs.history)
  end
  return messages
end

return M
