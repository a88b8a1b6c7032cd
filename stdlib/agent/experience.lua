--- agent.experience: rules an agent learned, kept per tenant and category.
--
-- A rule is {rule_id, type = "win_pattern" | "anti_pattern" | "fact", content,
-- success_count, fail_count}, stored as a summary of kind "experience::<category>" keyed
-- by its rule_id, so run:lookup with scope "tenant" finds the latest version of each rule
-- across every run of the tenant and never another tenant's. Rules rank by success_count
-- - fail_count, then age (newer first: the order run:lookup gives).
-- @module artana.agent.experience
local artana = require "artana"
local fields = require "artana.agent.fields"

local M = {}
local Experience = {}
Experience.__index = Experience
M.class = Experience

M.TYPES = { win_pattern = true, anti_pattern = true, fact = true }
-- reinforce looks a rule up among this many of the category's newest rules (run:lookup's most).
local MAX_LOOKUP = 1000

local RULE_FIELDS = {
  { "rule_id", type = "string", required = true },
  { "type", check = function(v) return M.TYPES[v] == true end,
    expects = "\"win_pattern\", \"anti_pattern\" or \"fact\"", required = true },
  { "content", type = "string", required = true },
  { "success_count", type = "natural" },
  { "fail_count", type = "natural" },
}

--- agent.experience{category, limit = 20}: `limit` is how many rules a run reads.
function M.new(spec)
  fields.check("agent.experience", spec, {
    { "category", type = "string", required = true },
    { "limit", check = function(v) return math.type(v) == "integer" and v >= 1 and v <= 1000 end,
      expects = "an integer from 1 to 1000" },
  })
  return setmetatable({ category = spec.category, kind = "experience::" .. spec.category,
    limit = spec.limit or 20 }, Experience)
end

local function checked(rule)
  fields.check("experience rule", rule, RULE_FIELDS)
  return { rule_id = rule.rule_id, type = rule.type, content = rule.content,
    success_count = rule.success_count or 0, fail_count = rule.fail_count or 0 }
end

--- Saves (or replaces) a rule; its counts default to 0.
function Experience:save(run, rule)
  local saved = checked(rule)
  run:summary(self.kind, saved, { key = saved.rule_id })
  return saved
end

--- The tenant's rules of this category, ranked (best first). One run:lookup.
function Experience:rules(run, limit)
  local hits = run:lookup { kind = self.kind, scope = "tenant", limit = limit or self.limit }
  local ranked = {}
  for i, hit in ipairs(hits) do
    if type(hit.value) == "table" then ranked[#ranked + 1] = { rule = hit.value, age = i } end
  end
  local function score(r) return (r.rule.success_count or 0) - (r.rule.fail_count or 0) end
  -- table.sort is not stable: the age breaks ties, so the order is the same in every run.
  table.sort(ranked, function(a, b)
    if score(a) ~= score(b) then return score(a) > score(b) end
    return a.age < b.age
  end)
  local rules = {}
  for i, r in ipairs(ranked) do rules[i] = r.rule end
  return rules
end

--- Counts one more success (positive) or failure of a rule, saving its new version.
function Experience:reinforce(run, rule_id, positive)
  if type(rule_id) ~= "string" or rule_id == "" then
    artana.fail("invalid_argument", "experience:reinforce(run, rule_id, positive): rule_id " ..
      "must be a non-empty string")
  end
  if type(positive) ~= "boolean" then
    artana.fail("invalid_argument", "experience:reinforce(run, rule_id, positive): positive " ..
      "must be a boolean")
  end
  for _, rule in ipairs(self:rules(run, MAX_LOOKUP)) do
    if rule.rule_id == rule_id then
      local counter = positive and "success_count" or "fail_count"
      rule[counter] = (rule[counter] or 0) + 1
      return self:save(run, rule)
    end
  end
  artana.fail("invalid_argument", "experience:reinforce: no rule '" .. rule_id ..
    "' in category '" .. self.category .. "'")
end

-- What a reflection answers: a list of rules (an object around it: providers' structured
-- outputs want an object at the top).
local REFLECTION_SCHEMA = artana.json_schema {
  type = "object", additionalProperties = false, required = { "rules" },
  properties = { rules = { type = "array", items = {
    type = "object", additionalProperties = false, required = { "rule_id", "type", "content" },
    properties = { rule_id = { type = "string", minLength = 1 },
      type = { enum = { "win_pattern", "anti_pattern", "fact" } },
      content = { type = "string", minLength = 1 } } } } },
}

local REFLECTION_INSTRUCTIONS = "You reflect on an agent's finished task. Write the rules " ..
  "worth keeping for the next tasks of this kind: win_pattern (what worked), anti_pattern " ..
  "(what failed) or fact (what is true of the environment). Reuse a known rule's rule_id " ..
  "to replace it. Answer {rules = [{rule_id, type, content}]}."

--- A reflection model step on a finished task: saves the rules it answers (a known rule's
-- counts are kept when its rule_id comes back). `facts` = {task, outcome, known = rules}.
function Experience:reflect(run, model, facts)
  local known, lines = {}, {}
  for i, rule in ipairs(facts.known or {}) do
    known[rule.rule_id] = rule
    lines[i] = ("- %s [%s] %s"):format(rule.rule_id, rule.type, rule.content)
  end
  local r = run:model { model = model, schema = REFLECTION_SCHEMA, messages = {
    { role = "system", content = REFLECTION_INSTRUCTIONS },
    { role = "user", content = "Task:\n" .. facts.task .. "\n\nOutcome:\n" .. facts.outcome ..
      "\n\nKnown rules:\n" .. (#lines > 0 and table.concat(lines, "\n") or "(none)") },
  } }
  local saved = {}
  for i, rule in ipairs(r.output.rules or {}) do
    local before = known[rule.rule_id] or {}
    saved[i] = self:save(run, { rule_id = rule.rule_id, type = rule.type, content = rule.content,
      success_count = before.success_count, fail_count = before.fail_count })
  end
  return saved
end

return M
