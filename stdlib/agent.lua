--- A durable tool-using agent loop: each turn is a model step whose tool calls run as tool
-- steps, until the model answers without tool calls and the answer is accepted.
--
--   local agent = require "artana.agent"
--   local coder = agent.new { name = "coder", model = "m", tools = { "run_tests" },
--     acceptance = { agent.tool_gate { tool = "run_tests" } } }
--   return function(run, input) return coder:run(run, input.task) end  -- {output, turns}
--
-- Turn i runs in scope `<name>/turn:i`: compact the history if due, build the messages
-- (one system message, then the history), call the model (the draft model under `loop`).
-- Its tool calls run in order and join the history as an assistant message with
-- `tool_calls = {{id, name, arguments}}` and one `role = "tool"` reply each (tool_call_id
-- = the model's id, else `call_<i>_<j>`; content = the result's canonical JSON). An answer
-- without tool calls is a candidate: the acceptance gates run, then the verifier (with
-- loop.verify_model); a refusal goes back to the model as a user message giving the reason,
-- and the loop goes on. Past max_iterations: agent_exhausted.
--
-- Every step's key is derived from call order within those scopes (no explicit keys), so a
-- re-execution reaches the same keys in the same order, and an agent may run any number of
-- times in one run. Halts (drift, budget, reconciliation, cancel, limits) always propagate;
-- any other failure of a tool the model called goes back to it as the tool's reply.
-- @module artana.agent
local artana = require "artana"
local fields = require "artana.agent.fields"
local common = require "artana.agent.common"
local context = require "artana.agent.context"
local compaction = require "artana.agent.compaction"
local experience = require "artana.agent.experience"
local skills = require "artana.agent.skills"
local acceptance = require "artana.agent.acceptance"

local M = {}
local Agent = {}
Agent.__index = Agent
M.class = Agent -- what agent.new makes (artana.orchestrate tells an agent node by it)

M.context = context.new
M.compaction = compaction.new
M.experience = experience.new
M.skill = skills.new
M.tool_gate = acceptance.tool_gate

local LOOP_FIELDS = {
  { "draft_model", type = "string", required = true },
  { "verify_model", type = "string" },
}

-- The agent's name is its scope's name, so it follows the host's rule for those.
local function is_scope_name(v)
  return type(v) == "string" and #v >= 1 and #v <= 100 and not v:find("/", 1, true)
end

local AGENT_FIELDS = {
  { "name", check = is_scope_name, required = true,
    expects = "a string of 1..100 bytes without '/' (it names the agent's scope)" },
  { "model", type = "string" },
  { "system_prompt", type = "string" },
  { "schema", check = function(v) return type(v) == "string" or type(v) == "table" end,
    expects = "a schema shorthand or artana.json_schema{...}" },
  { "tools", type = "strings" },
  { "max_iterations", type = "positive_integer" },
  { "loop", type = "table" },
  { "acceptance", check = fields.array_of(acceptance.class),
    expects = "an array of agent.tool_gate{...}" },
  { "context", check = fields.instance_of(context.class), expects = "an agent.context{...}" },
  { "compaction", check = fields.instance_of(compaction.class),
    expects = "an agent.compaction{...}" },
  { "skills", check = fields.array_of(skills.class), expects = "an array of agent.skill{...}" },
  { "experience", check = fields.instance_of(experience.class),
    expects = "an agent.experience{...}" },
  { "auto_reflect", type = "boolean" },
}

local function copy(list)
  return table.move(list or {}, 1, #(list or {}), 1, {})
end

--- agent.new{name, model, system_prompt, schema, tools, max_iterations = 15,
-- loop = {draft_model, verify_model}, acceptance, context, compaction, skills, experience,
-- auto_reflect}: `model` is required unless loop.draft_model is given (the draft model
-- then answers every turn, and compaction and reflection use it when they name no model).
-- A context's own system_prompt, when it has one, is used instead of the agent's.
function M.new(spec)
  fields.check("agent.new", spec, AGENT_FIELDS)
  if spec.loop ~= nil then fields.check("agent.new: loop", spec.loop, LOOP_FIELDS) end
  if spec.model == nil and spec.loop == nil then
    artana.fail("invalid_argument", "agent.new: missing required field 'model' (or " ..
      "loop = {draft_model, verify_model})")
  end
  if spec.auto_reflect and spec.experience == nil then
    artana.fail("invalid_argument", "agent.new: auto_reflect needs the field 'experience' " ..
      "(where the rules it reflects go)")
  end
  local seen = {}
  for _, skill in ipairs(spec.skills or {}) do
    if seen[skill.name] then
      artana.fail("invalid_argument", "agent.new: two skills are named '" .. skill.name .. "'")
    end
    seen[skill.name] = true
  end
  return setmetatable({
    name = spec.name, model = spec.model, system_prompt = spec.system_prompt,
    schema = spec.schema, tools = copy(spec.tools), max_iterations = spec.max_iterations or 15,
    loop = spec.loop and { draft_model = spec.loop.draft_model,
      verify_model = spec.loop.verify_model },
    acceptance = copy(spec.acceptance), context = spec.context or context.new {},
    compaction = spec.compaction, skills = copy(spec.skills), experience = spec.experience,
    auto_reflect = spec.auto_reflect == true,
  }, Agent)
end

-- The model that drafts answers; compaction and reflection use it when they name none.
local function main_model(self)
  return self.loop and self.loop.draft_model or self.model
end

-- One tool call of the model: its reply's text and outcome (success, failed, refused).
local function answer_call(run, st, call)
  if call.name == skills.LOAD_SKILL and #st.skills.list > 0 then
    local text, loaded = skills.load(st.skills, run, call.arguments)
    return text, loaded and "success" or "failed"
  end
  local why = skills.refusal(st.skills, call.name)
  if why ~= nil then return common.json_text { error = why }, "refused" end
  local ok, r = pcall(run.tool, run, call.name, call.arguments)
  if ok then return common.json_text(r.result), r.outcome or "success" end
  if common.is_halt(r) then error(r, 0) end
  return common.json_text { error = common.error_fields(r) }, "failed"
end

-- Runs the model's tool calls in order; they join the history as one assistant message and
-- one tool reply per call.
local function answer_calls(self, run, st, turn, output, calls)
  local asked = {}
  for j, call in ipairs(calls) do
    local id = call.id
    if type(id) ~= "string" or id == "" then id = ("call_%d_%d"):format(turn, j) end
    asked[j] = { id = id, name = call.name, arguments = call.arguments or {} }
  end
  local history = st.history
  history[#history + 1] = { role = "assistant", content = common.text_of(output),
    tool_calls = asked }
  for _, call in ipairs(asked) do
    local content, outcome = answer_call(run, st, call)
    run:summary("agent_tool_step", { agent = self.name, turn = turn, tool = call.name,
      id = call.id, outcome = outcome })
    history[#history + 1] = { role = "tool", tool_call_id = call.id, content = content }
  end
end

-- A candidate answer: the gates, then the verifier. Returns {output} when accepted; else
-- the refusal joins the history and nil is returned.
local function judge(self, run, st, turn, output)
  local candidate = common.text_of(output)
  local reason = acceptance.run_gates(run, self.acceptance, turn, self.name, output)
  if reason == nil and self.loop ~= nil and self.loop.verify_model ~= nil then
    local refusal = acceptance.verify(run, self.loop.verify_model, { agent = self.name,
      turn = turn, task = st.task, candidate = candidate })
    if refusal ~= nil then reason = "The verifier refused it: " .. refusal end
  end
  if reason == nil then return { output = output } end
  st.last_refusal = reason
  local history = st.history
  history[#history + 1] = { role = "assistant", content = candidate }
  history[#history + 1] = { role = "user", content = "Your answer was not accepted. " .. reason }
  return nil
end

local function take_turn(self, run, st, turn)
  if self.compaction ~= nil and self.compaction:due(st.history) then
    st.history = run:scope("compaction", function()
      return self.compaction:compact(run, st.history, main_model(self))
    end)
  end
  local messages = self.context:messages(run, { system_prompt = self.system_prompt,
    learnings = st.learnings, skills_panel = skills.panel(st.skills), history = st.history })
  local model = main_model(self)
  local offered = skills.offered(st.skills)
  local r = run:model { model = model, messages = messages, schema = self.schema,
    tools = #offered > 0 and offered or nil }
  local calls = r.tool_calls or {}
  run:summary("agent_model_step", { agent = self.name, turn = turn, model = model,
    tool_calls = #calls, usage = r.usage })
  if #calls > 0 then
    answer_calls(self, run, st, turn, r.output, calls)
    return nil
  end
  return judge(self, run, st, turn, r.output)
end

local function reflect(self, run, st, outcome)
  if not self.auto_reflect then return end
  run:scope("reflect", function()
    self.experience:reflect(run, main_model(self), { task = st.task, outcome = outcome,
      known = st.learnings })
  end)
end

--- Runs the agent on `prompt` until an answer is accepted: returns {output, turns}, or
-- raises agent_exhausted after max_iterations turns.
function Agent:run(run, prompt)
  if getmetatable(self) ~= Agent then
    artana.fail("invalid_argument", "call an agent as a:run(run, prompt), with a colon")
  end
  if type(run) ~= "table" then
    artana.fail("invalid_argument", "a:run(run, prompt): run must be the entry's run object")
  end
  if type(prompt) ~= "string" or prompt == "" then
    artana.fail("invalid_argument", "a:run(run, prompt): prompt must be a non-empty string")
  end
  return run:scope(self.name, function()
    local st = { task = prompt, history = { { role = "user", content = prompt } },
      skills = skills.state(self.skills, self.tools) }
    if self.experience ~= nil then st.learnings = self.experience:rules(run) end
    for turn = 1, self.max_iterations do
      local answer = run:scope("turn:" .. turn, function()
        return take_turn(self, run, st, turn)
      end)
      if answer ~= nil then
        reflect(self, run, st, ("Accepted after %d turn(s). Final answer:\n%s"):format(turn,
          common.text_of(answer.output)))
        return { output = answer.output, turns = turn }
      end
    end
    reflect(self, run, st, ("Not accepted within %d turns. Last refusal:\n%s"):format(
      self.max_iterations, tostring(st.last_refusal or "(none)")))
    artana.fail("agent_exhausted", ("agent '%s' has no accepted answer after %d turns " ..
      "(max_iterations)"):format(self.name, self.max_iterations))
  end)
end

return M
