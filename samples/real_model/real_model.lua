-- A real model: one step answered by any OpenAI-compatible endpoint (OpenAI, llama.cpp's
-- llama-server, vLLM, Ollama), with no Lua port. The step is journaled like any other, so
-- running the same run id again replays the answer without the endpoint or the key.
--
--   artana run samples/real_model/real_model.lua --model-endpoint https://api.openai.com/v1 \
--     --api-key-env OPENAI_API_KEY
--   artana run samples/real_model/real_model.lua --model-endpoint http://127.0.0.1:8080/v1
--
-- The input may name the model and the question:
--   --input '{"model": "gpt-4o-mini", "prompt": "Name a prime number."}'
return function(run, input)
  local answer = run:model {
    model = input.model or "gpt-4o-mini",
    messages = {
      { role = "system", content = "You answer in one short sentence." },
      { role = "user", content = input.prompt or "Say hello to a new user of Artana." },
    },
  }
  return { reply = answer.output.text, usage = answer.usage, replayed = answer.replayed }
end
