// The script embed_bench's reload executes again in 1 000 runs, and lua_floor_bench executes
// in Lua alone: one text, so the floor measures the same work.
#pragma once

namespace artana::bench {

// `input.steps` model steps, each answered by the "brain" port; returns what each said.
inline constexpr char kStepsScript[] = R"lua(
return function(run, input)
  local said = {}
  for i = 1, input.steps do
    said[i] = run:model{ model = "brain", messages = {{ role = "user", content = "step " .. i }} }.output.text
  end
  return said
end
)lua";

}  // namespace artana::bench
