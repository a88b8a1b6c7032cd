--- Field checks the agent's constructors share: a spec table is refused, naming the field,
-- when a field is unknown, missing or of the wrong type, so a typo fails where it is made
-- rather than as a silently ignored option turns later.
-- @module artana.agent.fields
local artana = require "artana"

local M = {}

local function bad(what, message)
  artana.fail("invalid_argument", what .. ": " .. message)
end

--- Whether `t` is a sequence 1..n with nothing else in it (an empty table counts).
function M.is_array(t)
  if type(t) ~= "table" then return false end
  local n = #t
  for key in pairs(t) do
    if type(key) ~= "number" or key < 1 or key > n or key % 1 ~= 0 then return false end
  end
  return true
end

-- Integers only: a count like 3.0 would turn into step keys ("turn:3.0") that differ from
-- the ones an integer gives.
local function is_integer(v)
  return math.type(v) == "integer"
end

-- The checks a field's `type` may name; each returns whether the value fits.
local CHECKS = {
  string = function(v) return type(v) == "string" and v ~= "" end,
  boolean = function(v) return type(v) == "boolean" end,
  ["function"] = function(v) return type(v) == "function" end,
  table = function(v) return type(v) == "table" end,
  positive_integer = function(v) return is_integer(v) and v >= 1 end,
  natural = function(v) return is_integer(v) and v >= 0 end,
  strings = function(v)
    if not M.is_array(v) then return false end
    for _, s in ipairs(v) do
      if type(s) ~= "string" or s == "" then return false end
    end
    return true
  end,
}

local DESCRIPTIONS = {
  string = "a non-empty string", boolean = "a boolean", ["function"] = "a function",
  table = "a table", positive_integer = "an integer >= 1", natural = "an integer >= 0",
  strings = "an array of non-empty strings",
}

--- Checks `spec` against `fields`, an array of {name, type, required = bool, check = fn,
-- expects = text}: `type` names one of the checks above, or `check(value)` decides (with
-- `expects` saying what was wanted). Returns `spec`.
-- Fields are checked in the order listed, so the error named is the same in every run.
function M.check(what, spec, fields)
  if type(spec) ~= "table" then bad(what, "expects a table of named fields") end
  local known, names = {}, {}
  for i, field in ipairs(fields) do
    known[field[1]] = field
    names[i] = field[1]
  end
  for key in pairs(spec) do
    if not known[key] then
      bad(what, "unknown field '" .. tostring(key) .. "' (fields: " .. table.concat(names, ", ") ..
        ")")
    end
  end
  for _, field in ipairs(fields) do
    local name, value = field[1], spec[field[1]]
    if value == nil then
      if field.required then bad(what, "missing required field '" .. name .. "'") end
    else
      local ok = field.check and field.check(value) or (field.type and CHECKS[field.type](value))
      if not ok then
        bad(what, "field '" .. name .. "' must be " .. (field.expects or
          DESCRIPTIONS[field.type]) .. " (got " .. type(value) .. ")")
      end
    end
  end
  return spec
end

--- A field check accepting only objects a constructor made (their metatable is `class`).
function M.instance_of(class)
  return function(v) return type(v) == "table" and getmetatable(v) == class end
end

--- A field check accepting an array of objects a constructor made.
function M.array_of(class)
  return function(v)
    if not M.is_array(v) then return false end
    for _, item in ipairs(v) do
      if getmetatable(item) ~= class then return false end
    end
    return true
  end
end

return M
