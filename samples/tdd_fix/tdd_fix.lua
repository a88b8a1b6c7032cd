-- tdd_fix: a test-driven harness fixing a bug in a tiny project (workspace/: src/add.sh
-- subtracts; check.sh wants 2 + 3 = 5). Each wake is one attempt at the unit: the "fixer"
-- model (a Lua port, no network) reads the file and the last failure, the script writes
-- its fix with run:write_file, and h:verify_and_commit runs `sh check.sh` with run:exec.
-- Only a passing check makes the unit done. The fixer's first fix multiplies (the check
-- fails: "got 6"); shown that failure, its second fix adds, and the run completes.
--
--   cp -r samples/tdd_fix/workspace /tmp/tdd_ws
--   artana --data /tmp/tdd run samples/tdd_fix/tdd_fix.lua --workspace /tmp/tdd_ws \
--     --caps exec:run,workspace:read,workspace:write
local artana = require "artana"
local harness = require "artana.harness"

-- A model with no network. It answers from its prompt alone (a port is called only live,
-- never on replay, so it must not count calls): shown the check's complaint about a
-- product, it adds; otherwise it guesses wrong and multiplies.
artana.model_port("fixer", function(req)
  local op, why = "*", "combine the two arguments"
  if req.prompt:find("expected 5, got 6", 1, true) then op, why = "+", "the check wants the sum" end
  print("fixer proposes: $1 " .. op .. " $2")
  return { output = { file = "#!/bin/sh\n# Prints the sum of its two arguments.\necho $(( $1 " ..
                        op .. " $2 ))\n", explanation = why },
           usage = { prompt_tokens = 60, completion_tokens = 20 } }
end)

local h = harness.test_driven {
  name = "tdd_fix",
  model = "fixer",
  max_attempts = 3,
  check = { argv = { "sh", "check.sh" } },
  define_tasks = function()
    return { { id = "fix_add", file = "src/add.sh",
               description = "src/add.sh must print the sum of its two arguments" } }
  end,
  work_on = function(h, unit, ctx)
    local source = ctx.run:read_file(unit.file).text
    local prompt = "Fix " .. unit.file .. " so that `sh check.sh` passes: " .. unit.description ..
      "\n--- " .. unit.file .. "\n" .. source
    -- What the last wake's check printed: an artifact, so the next wake can read it.
    local failure = h:get_artifact("last_failure/" .. unit.id)
    if failure ~= nil then prompt = prompt .. "\n--- the check said last time:\n" .. failure end
    local fix = h:model(ctx, { prompt = prompt,
                               schema = { file = "string", explanation = "string" } })
    ctx.run:write_file(unit.file, fix.output.file)
    local verdict = h:verify_and_commit(ctx, unit.id)
    if not verdict.passed then h:set_artifact("last_failure/" .. unit.id, verdict.stdout) end
  end,
}

return h:entry()
