-- Durable chat: a few model turns over a `messages` array built from the input. Each turn
-- is a model step in the ledger, so running the same run id again replays the whole
-- conversation: the port is not called (it prints a line per call; print goes to the log
-- on stderr) and nothing is appended.
--
--   artana --data /tmp/chat run samples/chat/chat.lua --run-id chat-1 \
--     --input '{"questions": ["hello", "what is a ledger?", "thanks"]}'
--   artana --data /tmp/chat run samples/chat/chat.lua --run-id chat-1   # replays, no port call
--   artana --data /tmp/chat ledger export chat-1                         # same events as before
local artana = require "artana"

-- A model with no network: it answers the last user message.
artana.model_port("echo-chat", function(req)
  local last = req.messages[#req.messages]
  print("port call: " .. #req.messages .. " messages, last: " .. last.content)
  return { output = { text = "You said: " .. last.content },
           usage = { prompt_tokens = #req.messages, completion_tokens = 3, cost_usd = 0.001 } }
end)

return function(run, input)
  local messages = { { role = "system", content = "You are a terse assistant." } }
  for i, question in ipairs(input.questions or { "hello", "what is a ledger?", "thanks" }) do
    messages[#messages + 1] = { role = "user", content = question }
    local reply = run:model { model = "echo-chat", messages = messages, step_key = "turn_" .. i }
    messages[#messages + 1] = { role = "assistant", content = reply.output.text }
  end
  return { messages = messages }
end
