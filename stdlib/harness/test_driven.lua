--- The test-driven harness: an incremental harness whose units are done only through a
-- passing check.
--
-- work_on(h, unit, ctx) edits files (run:write_file) and then calls
-- h:verify_and_commit(ctx, unit.id), which runs `check` with run:exec in the workspace:
-- it passes on exit code 0 and, with adjudicate = true, the verify model's answer
-- {passed, reasoning} (run:model with that schema, asked only when the check passed)
-- agreeing. Pass: the unit is done — the only way a test-driven unit gets there. Fail:
-- pending with attempts + 1 (failed at max_attempts). Either way a summary verification
-- {unit, attempt, exit_code, passed, reasoning?}. One verify_and_commit per wake, for the
-- unit in progress; a work_on that returns (or raises) without a passing one leaves the
-- unit pending with attempts + 1 too. Returns {passed, exit_code, stdout, stderr,
-- reasoning?}. run:exec needs the capability exec:run and a workspace; run:write_file
-- needs workspace:write. A verification passes on a recorded exec result (and a recorded
-- model answer), so a re-execution settles the unit as the run did.
-- @module artana.harness.test_driven
local artana = require "artana"
local base = require "artana.harness.base"
local common = require "artana.harness.common"
local fields = require "artana.harness.fields"
local incremental = require "artana.harness.incremental"

local fail = artana.fail

local M = {}

local TestDriven = setmetatable({}, { __index = incremental.Incremental })
TestDriven.__index = TestDriven
M.TestDriven = TestDriven

local function adjudication_prompt(id, description, check, result)
  return "Unit '" .. id .. "': " .. description .. "\nThe check `" ..
    table.concat(check.argv, " ") .. "` exited with code 0.\nstdout:\n" .. result.stdout ..
    "\nstderr:\n" .. result.stderr .. "\nIs the unit's work really done? Answer passed " ..
    "(true or false) and your reasoning."
end

function TestDriven:verify_and_commit(ctx, unit_id)
  local run = common.run_of(ctx, "h:verify_and_commit(ctx, unit_id)")
  if type(unit_id) ~= "string" then
    fail("invalid_argument", "h:verify_and_commit(ctx, unit_id): unit_id must be a string")
  end
  local record = self._state ~= nil and self._state[unit_id] or nil
  if record == nil then
    fail("invalid_argument", "h:verify_and_commit: no unit '" .. unit_id .. "'")
  end
  if record.state ~= "in_progress" then
    fail("harness_state", "h:verify_and_commit('" .. unit_id .. "'): the unit is " ..
      record.state .. ", not in progress (one verification per wake, of the unit work_on " ..
      "was given)")
  end
  local check = self.config.check
  local result = run:exec { argv = check.argv, cwd = check.cwd, env = check.env,
                            timeout_s = check.timeout_s }
  local passed = result.exit_code == 0 and not result.timed_out
  local reasoning = nil
  if passed and self.config.adjudicate then
    local answer = self:verify(ctx, {
      prompt = adjudication_prompt(unit_id, record.description, check, result),
      schema = { passed = "boolean", reasoning = "string" } })
    passed = answer.output.passed == true
    reasoning = answer.output.reasoning
  end
  local attempt = record.attempts + 1
  run:summary("verification", { unit = unit_id, attempt = attempt, exit_code = result.exit_code,
                                passed = passed, reasoning = reasoning })
  if passed then
    self:_transition(run, unit_id, "done", attempt)
  else
    self:_fail_attempt(run, unit_id, { kind = "verification_failed", message = "the check " ..
      (result.exit_code == 0 and "passed but the verify model disagreed" or
        "exited with code " .. tostring(result.exit_code)) })
  end
  return { passed = passed, exit_code = result.exit_code, stdout = result.stdout,
           stderr = result.stderr, reasoning = reasoning }
end

-- A unit still in progress when work_on ended had no passing verification.
function TestDriven:_settle(ctx, id, ok, err)
  if self._state[id].state ~= "in_progress" then return end
  self:_fail_attempt(ctx.run, id, not ok and common.describe(err) or
    { kind = "not_verified", message = "work_on returned without a passing h:verify_and_commit" })
end

--- harness.test_driven(spec)
function M.new(spec)
  local config = fields.checked_spec(spec, fields.TEST_DRIVEN,
    { "define_tasks", "work_on", "check" }, "harness.test_driven")
  if config.adjudicate and config.verify_model == nil and config.model == nil then
    fail("invalid_argument", "harness.test_driven: adjudicate = true needs verify_model (or model)")
  end
  return base.new_harness(TestDriven, config)
end

return M
