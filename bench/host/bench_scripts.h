// The Lua scripts host_bench drives (bench/host/host_bench.cc says what each figure is).
#pragma once

namespace artana::bench {

// The model port answers at once with a small output, as a cached or scripted model would.
const char kModelScript[] = R"lua(
local artana = require "artana"
artana.model_port("bench", function(req)
  return { output = { text = "ok" }, usage = { prompt_tokens = 12, completion_tokens = 3 } }
end)
return function(run, input)
  local replayed = 0
  for i = 1, input.steps do
    local r = run:model { model = "bench", prompt = "Summarise the ticket and propose the next step." }
    if r.replayed then replayed = replayed + 1 end
  end
  return { steps = input.steps, replayed = replayed }
end
)lua";

// Blocks of `block` no-I/O syscalls between print() markers.
const char kNoioScript[] = R"lua(
return function(run, input)
  for b = 1, input.blocks do
    print("block")  -- marker: the host's print sink stamps the time
    if input.kind == "now" then
      for i = 1, input.block do run:now() end
    else
      for i = 1, input.block do run:random() end
    end
  end
  print("end")  -- marker closing the last block
  return input.blocks
end
)lua";

// Prints its Lua heap, then waits at a pause: one of 10 000 runs held by the host.
const char kPausedScript[] = R"lua(
return function(run)
  print(run:memory())  -- the Lua heap in bytes, garbage not yet collected included
  local answer = run:pause("approve?")
  return answer
end
)lua";

}  // namespace artana::bench
