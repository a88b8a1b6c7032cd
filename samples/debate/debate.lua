-- A bare-metal debate loop: two agents, "pro" and "con" (two model names served by one
-- port function), take turns for N rounds over a shared transcript. "con" is offered the
-- `cite_source` tool and asks for it through the model's tool_calls; the loop runs the
-- call and puts the citation into the transcript, which is the run's output.
--
--   artana --data /tmp/debate run samples/debate/debate.lua \
--     --input '{"topic": "durable runs beat retries", "rounds": 2}'
--   artana --data /tmp/debate --json run samples/debate/debate.lua   # one JSON object on stdout
local artana = require "artana"

artana.tool { name = "cite_source", description = "finds a source for a claim",
              args = { claim = "string" },
              fn = function(args) return { source = "Journal of Examples: " .. args.claim } end }

-- A model with no network, per side: it takes its stance on the topic, counting its turns,
-- and asks for one citation whenever it is offered a tool.
local function debater(side)
  return function(req)
    local topic, turn = req.messages[2].content, 1
    for _, message in ipairs(req.messages) do
      if message.role == "assistant" then turn = turn + 1 end
    end
    local calls = {}
    if #req.tools > 0 then calls[1] = { name = req.tools[1].name, arguments = { claim = topic } } end
    local verb = side == "pro" and "holds" or "doubts"
    return { output = { text = ("%s, turn %d: %s that %s"):format(side, turn, verb, topic) },
             tool_calls = artana.array(calls),
             usage = { prompt_tokens = #req.messages, completion_tokens = 6 } }
  end
end
artana.model_port("pro", debater("pro"))
artana.model_port("con", debater("con"))

-- What `side` sees: its stance, the topic, then the transcript (its own lines as assistant).
local function messages_for(side, topic, transcript)
  local messages = { { role = "system", content = "You argue " .. side .. " on the topic." },
                     { role = "user", content = topic } }
  for _, line in ipairs(transcript) do
    messages[#messages + 1] = { role = line.speaker == side and "assistant" or "user",
                                content = line.text }
  end
  return messages
end

return function(run, input)
  local topic = input.topic or "durable runs beat retries"
  local transcript = {}
  for round = 1, input.rounds or 2 do
    run:scope("round_" .. round, function()
      for _, side in ipairs { "pro", "con" } do
        local turn = run:model { model = side, step_key = side,
                                 messages = messages_for(side, topic, transcript),
                                 tools = side == "con" and { "cite_source" } or nil }
        local line = { speaker = side, text = turn.output.text }
        for _, call in ipairs(turn.tool_calls) do
          line.cites = run:tool(call.name, call.arguments, { step_key = side .. "_cite" }).result.source
        end
        transcript[#transcript + 1] = line
      end
    end)
  end
  return { topic = topic, transcript = transcript }
end
