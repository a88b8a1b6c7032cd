--- The harness constructors' fields: each field's check, the fields each kind of harness
-- takes, and checked_spec, which refuses a spec naming the field at fault, so a typo fails
-- where it is made rather than as an option silently ignored wakes later.
-- @module artana.harness.fields
local artana = require "artana"

local fail = artana.fail

local M = {}

local REPLAY_POLICIES = { strict = true, allow_prompt_drift = true, fork_on_drift = true }

-- Each check returns whether the value fits and, when not, what was expected.
local function of_type(name)
  return function(value) return type(value) == name, "a " .. name end
end

local function check_name(value)
  return type(value) == "string" and #value >= 1 and #value <= 100 and not value:find("/", 1, true),
    "a string of 1 to 100 bytes without '/' (it names the harness's scope)"
end

local function check_replay(value)
  return REPLAY_POLICIES[value] == true, "\"strict\", \"allow_prompt_drift\" or \"fork_on_drift\""
end

local function check_between(value)
  local expected = "\"continue\", \"pause\" or {sleep = seconds > 0}"
  if value == "continue" or value == "pause" then return true end
  if type(value) ~= "table" then return false, expected end
  for key in pairs(value) do
    if key ~= "sleep" then return false, expected end
  end
  return type(value.sleep) == "number" and value.sleep > 0, expected
end

local function check_max_attempts(value)
  return math.type(value) == "integer" and value >= 1, "an integer >= 1"
end

-- check = {argv = {"sh", "check.sh"}, cwd, env, timeout_s}: what run:exec runs to verify.
local CHECK_FIELDS = { argv = true, cwd = true, env = true, timeout_s = true }

local function check_check(value)
  local expected = "{argv = a non-empty list of strings, cwd = string?, env = table?, " ..
    "timeout_s = number?}"
  if type(value) ~= "table" then return false, expected end
  for key in pairs(value) do
    if not CHECK_FIELDS[key] then
      return false, expected .. " (unknown field '" .. tostring(key) .. "')"
    end
  end
  local argv = value.argv
  if type(argv) ~= "table" or #argv == 0 then return false, expected end
  for key, arg in pairs(argv) do
    if math.type(key) ~= "integer" or type(arg) ~= "string" then return false, expected end
  end
  if value.cwd ~= nil and type(value.cwd) ~= "string" then return false, expected end
  if value.env ~= nil and type(value.env) ~= "table" then return false, expected end
  if value.timeout_s ~= nil and type(value.timeout_s) ~= "number" then return false, expected end
  return true
end

-- An incremental harness's step is its own (one unit per wake): naming one is a mistake.
local function own_step()
  return false, "left out: this harness's step is its own (one unit per wake); give work_on"
end

local function extend(fields, more)
  local out = {}
  for key, check in pairs(fields) do out[key] = check end
  for key, check in pairs(more) do out[key] = check end
  return out
end

--- harness.base's and harness.supervisor's fields.
M.BASE = {
  name = check_name, step = of_type("function"), on_initialize = of_type("function"),
  on_wake = of_type("function"), on_sleep = of_type("function"), model = of_type("string"),
  draft_model = of_type("string"), verify_model = of_type("string"), replay = check_replay,
  between_wakes = check_between,
}

--- harness.incremental's: the base's, but its step is its own.
M.INCREMENTAL = extend(M.BASE, {
  step = own_step, define_tasks = of_type("function"), work_on = of_type("function"),
  max_attempts = check_max_attempts,
})

--- harness.test_driven's: the incremental's and how a unit is checked.
M.TEST_DRIVEN = extend(M.INCREMENTAL, {
  check = check_check, adjudicate = of_type("boolean"),
})

--- Refuses a spec that is not a table, has a field not in `fields`, a field of the wrong
-- type, or misses one of `required`; returns a copy (the caller may reuse its table), with
-- the defaults name = "harness" and between_wakes = "continue".
function M.checked_spec(spec, fields, required, what)
  if type(spec) ~= "table" then
    fail("invalid_argument", what .. " expects a table of fields: " .. what .. " { ... }")
  end
  local config = {}
  for key, value in pairs(spec) do
    local check = type(key) == "string" and fields[key] or nil
    if check == nil then
      fail("invalid_argument", what .. ": unknown field '" .. tostring(key) .. "'")
    end
    local ok, expected = check(value)
    if not ok then
      fail("invalid_argument", what .. ": field '" .. key .. "' must be " .. expected)
    end
    config[key] = value
  end
  for _, key in ipairs(required) do
    if config[key] == nil then
      fail("invalid_argument", what .. ": field '" .. key .. "' is required")
    end
  end
  if config.name == nil then config.name = "harness" end
  if config.between_wakes == nil then config.between_wakes = "continue" end
  return config
end

return M
