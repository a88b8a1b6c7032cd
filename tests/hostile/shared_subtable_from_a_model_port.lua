-- expect: failed limit_exceeded
-- A model port's answer is converted under the same bound as the run's output.
local artana = require "artana"

artana.model_port("tree", function()
  local t = { "leaf" }
  for _ = 1, 22 do t = { t, t } end
  return { output = { text = "x", tree = t } }
end)

return function(run)
  pcall(run.model, run, { model = "tree", messages = { { role = "user", content = "hi" } } })
  return "survived"
end
