-- Draft, test, verify: an artana.agent under loop = {draft_model, verify_model}. The
-- drafter answers with a Lua expression in `a` and `b`; an acceptance gate runs it through
-- the `run_tests` tool, which refuses the first draft (it subtracts) with the failing
-- cases; the drafter reads them in the refusal and fixes its answer; the tests pass and
-- the verifier accepts. Both models are Lua ports, and they and the tool print a line per
-- call, so running the same run id again shows the whole loop replayed from the ledger with
-- no call.
--
--   artana --data /tmp/dva run samples/draft_verify_agent/draft_verify_agent.lua --run-id dva-1
--   artana --data /tmp/dva ledger export dva-1 | grep agent_
local artana = require "artana"
local agent = require "artana.agent"

local CASES = { { a = 1, b = 2, want = 3 }, { a = 5, b = 5, want = 10 }, { a = -4, b = 1, want = -3 } }

artana.tool { name = "run_tests", description = "runs the add(a, b) cases against an expression",
              args = { expression = "string" },
              fn = function(args)
                print("run_tests call: " .. args.expression)
                local chunk = load("local a, b = ...; return " .. args.expression)
                local failures = {}
                for _, case in ipairs(CASES) do
                  local ok, got = false, "a syntax error"
                  if chunk then ok, got = pcall(chunk, case.a, case.b) end
                  if not ok or got ~= case.want then
                    failures[#failures + 1] = ("add(%d, %d) = %s, want %d"):format(case.a, case.b,
                      tostring(got), case.want)
                  end
                end
                return { passed = #failures == 0, failures = artana.array(failures) }
              end }

-- The drafter: a first draft that subtracts; once a refusal names failing cases, the fix.
artana.model_port("drafter", function(req)
  local last = req.messages[#req.messages]
  local refused = last.role == "user" and last.content:find("not accepted", 1, true) ~= nil
  local expression = refused and "a + b" or "a - b"
  print("drafter call: " .. expression .. (refused and " (after: " .. last.content .. ")" or ""))
  return { output = { expression = expression }, usage = { prompt_tokens = 40, completion_tokens = 5 } }
end)

-- The verifier: it sees the task and the candidate, and accepts an expression that adds.
artana.model_port("verifier", function(req)
  local candidate = req.messages[#req.messages].content
  local accepted = candidate:find("a + b", 1, true) ~= nil
  print("verifier call: " .. tostring(accepted))
  return { output = { accepted = accepted, reasoning = accepted and "it adds a and b" or
             "it does not add" }, usage = { prompt_tokens = 30, completion_tokens = 6 } }
end)

local coder = agent.new {
  name = "coder",
  system_prompt = "Answer with a Lua expression in a and b.",
  schema = { expression = "string" },
  loop = { draft_model = "drafter", verify_model = "verifier" },
  max_iterations = 4,
  acceptance = { agent.tool_gate { tool = "run_tests",
                                   args = function(output) return { expression = output.expression } end } },
}

return function(run, input)
  local result = coder:run(run, input.task or "Write add(a, b) as an expression.")
  return { expression = result.output.expression, turns = result.turns }
end
