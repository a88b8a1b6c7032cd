-- expect: failed invalid_argument
-- Definitions referring twice to the next, 27 deep: 2^27 subschemas per value. Refused when
-- the tool is registered, before anything validates with it.
local artana = require "artana"

local definitions = {}
for i = 0, 26 do
  local next_ref = { ["$ref"] = "#/definitions/d" .. (i + 1) }
  definitions["d" .. i] = { allOf = { next_ref, next_ref } }
end
definitions.d27 = { type = "integer" }

artana.tool { name = "deep", description = "a schema that doubles per level",
              args = artana.json_schema { definitions = definitions, ["$ref"] = "#/definitions/d0" },
              fn = function(args) return args end }

return function(run)
  return run:tool("deep", 1)
end
