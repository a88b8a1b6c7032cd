-- A child of supervisor.lua, narrowed to the capability notes:write: its model port (no
-- network) writes the release notes and asks for them to be published. It is offered
-- `publish_notes` and `ship`, but under `--policy enforced` the capability guard offers it
-- only what the child may do (the port prints what it was offered).
local artana = require "artana"
require "release_tools"

artana.model_port("notes-writer", function(req)
  local offered = {}
  for i, tool in ipairs(req.tools) do offered[i] = tool.name end
  print("notes writer called, offered: " .. table.concat(offered, ","))
  local text = "What is new in " .. req.prompt:match("notes of (.+)$") .. ": faster invoices."
  return { output = { text = text },
           tool_calls = { { name = "publish_notes", arguments = { text = text } } },
           usage = { prompt_tokens = 12, completion_tokens = 9, cost_usd = 0.001 } }
end)

return function(run, input)
  local r = run:model { model = "notes-writer", schema = { text = "string" },
                        prompt = "Write the release notes of " .. input.service .. " " ..
                          input.version, tools = { "publish_notes", "ship" } }
  local published = false
  for _, call in ipairs(r.tool_calls) do
    published = run:tool(call.name, call.arguments).result.published == true
  end
  return { notes = r.output.text, published = published }
end
