--- agent.skill: instructions and tools an agent loads when it needs them.
--
-- The agent offers a built-in `load_skill {name}` tool and lists every skill's summary in
-- its system message; a skill's tools are hidden from the model, and refused if it calls
-- them, until the skill is loaded. Loading hands the skill's doc to the model as the tool's
-- reply, records the summary `skill_loaded {name, sha256}`, and offers its tools from the
-- next turn.
--
-- The kernel offers a model only registered tools, so agent.skill registers `load_skill`
-- (once, with artana.tool: skills are declared at the top level, beside the tools they
-- name). Its calls never reach that tool's fn: the agent answers them itself, with no tool
-- step. Replay is still exact: which skill the model asked for is in its recorded answer,
-- a doc file is read by run:read_file (a recorded step, so a replay gets the text the run
-- saw even if the file changed since) and a doc module is part of the script's sources; the
-- summary is the audit record of what was loaded, and the text reaches the next turn's
-- recorded model request, so a changed doc is drift there.
-- @module artana.agent.skills
local artana = require "artana"
local fields = require "artana.agent.fields"

local M = {}
local Skill = {}
Skill.__index = Skill
M.class = Skill
M.LOAD_SKILL = "load_skill"

local registered = false

local function refuse_direct_call()
  artana.fail("invalid_argument", "load_skill is answered by the agent that offers it " ..
    "(artana.agent), not by run:tool")
end

local function register_load_skill()
  if registered then return end
  local ok, err = pcall(artana.tool, { name = M.LOAD_SKILL, version = "1",
    description = "Loads a skill by name: returns its instructions and offers its tools " ..
      "from the next turn on",
    args = { name = "string" }, fn = refuse_direct_call })
  if not ok then
    artana.fail("invalid_argument", "agent.skill registers the load_skill tool its agent " ..
      "offers, so skills are declared at the script's top level, beside its tools: " ..
      tostring(type(err) == "table" and err.message or err))
  end
  registered = true
end

local function is_doc(v)
  if type(v) == "string" then return v ~= "" end
  return type(v) == "table" and type(v.doc) == "string"
end

--- agent.skill{name, summary, doc = "skills/x.md" | module, tools}: `doc` is a path in the
-- script's folder, or a module (the table `require` returned) whose `doc` field is the text.
function M.new(spec)
  fields.check("agent.skill", spec, {
    { "name", type = "string", required = true },
    { "summary", type = "string", required = true },
    { "doc", check = is_doc, required = true,
      expects = "a path in the script's folder, or a module table with a string `doc`" },
    { "tools", type = "strings" },
  })
  if spec.name == M.LOAD_SKILL then
    artana.fail("invalid_argument", "agent.skill: a skill cannot be named load_skill")
  end
  register_load_skill()
  return setmetatable({ name = spec.name, summary = spec.summary, doc = spec.doc,
    tools = table.move(spec.tools or {}, 1, #(spec.tools or {}), 1, {}) }, Skill)
end

--- What one agent run knows of its skills: which tool belongs to which skill, and which
-- skills are loaded. `base` is the agent's own tools (always offered).
function M.state(skills, base)
  local state = { list = skills, by_name = {}, owner = {}, loaded = {}, base = {},
    base_list = base }
  for _, name in ipairs(base) do state.base[name] = true end
  for _, skill in ipairs(skills) do
    state.by_name[skill.name] = skill
    for _, tool in ipairs(skill.tools) do
      if state.owner[tool] == nil then state.owner[tool] = skill end
    end
  end
  return state
end

--- The tool names a turn offers: the agent's tools, load_skill (with skills), and the tools
-- of the skills loaded so far, each once.
function M.offered(state)
  local out, seen = {}, {}
  local function add(name)
    if not seen[name] then seen[name] = true; out[#out + 1] = name end
  end
  for _, name in ipairs(state.base_list) do add(name) end
  if #state.list > 0 then add(M.LOAD_SKILL) end
  for _, skill in ipairs(state.list) do
    if state.loaded[skill.name] then
      for _, tool in ipairs(skill.tools) do add(tool) end
    end
  end
  return out
end

--- Why the model may not call `tool` now, or nil when it may.
function M.refusal(state, tool)
  if state.base[tool] then return nil end
  local owner = state.owner[tool]
  if owner == nil then return "tool '" .. tostring(tool) .. "' is not offered to this agent" end
  if state.loaded[owner.name] then return nil end
  return "tool '" .. tool .. "' belongs to skill '" .. owner.name .. "', which is not " ..
    "loaded: call load_skill with {name = \"" .. owner.name .. "\"} first"
end

--- The skills panel of the system message, or nil with no skills.
function M.panel(state)
  if #state.list == 0 then return nil end
  local lines = { "Skills (call the load_skill tool with {name} to get a skill's " ..
    "instructions and tools):" }
  for _, skill in ipairs(state.list) do
    lines[#lines + 1] = "- " .. skill.name .. ": " .. skill.summary ..
      (state.loaded[skill.name] and " (loaded)" or "")
  end
  return table.concat(lines, "\n")
end

local function doc_text(run, skill)
  if type(skill.doc) == "table" then return skill.doc.doc end
  local file = run:read_file(skill.doc, { root = "script" })
  if not file.exists or type(file.text) ~= "string" then
    artana.fail("invalid_argument", "skill '" .. skill.name .. "': its doc '" .. skill.doc ..
      "' is not a text file in the script's folder")
  end
  return file.text
end

--- Answers a load_skill call: returns the reply's text and whether a skill was loaded.
function M.load(state, run, args)
  local name = type(args) == "table" and args.name or nil
  local skill = state.by_name[name]
  if skill == nil then
    local names = {}
    for i, s in ipairs(state.list) do names[i] = s.name end
    return artana.canonical_json { error = "no skill named '" .. tostring(name) ..
      "' (skills: " .. table.concat(names, ", ") .. ")" }, false
  end
  if state.loaded[name] then return "Skill '" .. name .. "' is already loaded.", true end
  local text = doc_text(run, skill)
  run:summary("skill_loaded", { name = name, sha256 = artana.sha256(text) })
  state.loaded[name] = true
  return text, true
end

return M
