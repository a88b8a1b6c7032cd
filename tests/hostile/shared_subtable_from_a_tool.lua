-- expect: failed limit_exceeded
-- A tool's result is converted under the same bound as the run's output.
local artana = require "artana"

artana.tool { name = "tree", description = "returns four million leaves in 44 tables",
              args = {},
              fn = function()
                local t = { "leaf" }
                for _ = 1, 22 do t = { t, t } end
                return t
              end }

return function(run)
  pcall(run.tool, run, "tree", {})
  return "survived"
end
