// A script whose one tool computes for several seconds without an append: a call longer than
// a short lease, or one to cancel midway.
#pragma once

#include <string>

namespace artana::testing {

inline std::string slow_tool_script(bool side_effect) {
  return std::string(R"lua(
local artana = require "artana"
artana.tool { name = "slow", side_effect = )lua") +
         (side_effect ? "true" : "false") + R"lua(, args = {},
              fn = function(args, ctx)
                local n = 0
                for i = 1, 4e8 do n = n + i % 7 end
                return { n = n }
              end }
return function(run) return run:tool("slow", {}).result end
)lua";
}

}  // namespace artana::testing
