-- artana.harness: long-running work as a series of wakes on the durable kernel.
--
--   local harness = require "artana.harness"
--   local h = harness.incremental { name = "release", define_tasks = ..., work_on = ... }
--   return h:entry()
--
-- A harness runs in scope `name` (run:scope); wake n runs in scope `wake:n` inside it, so
-- every step a hook makes has a key derived from the wake it belongs to. A wake is:
--
--   on_initialize(h, ctx)               wake 1 only (then harness_initialized)
--   on_wake(h, ctx, reorientation)      every wake (after harness_wake)
--   step(h, ctx) -> result, more        without `more` the run returns `result`
--   on_sleep(h, ctx, err)               always, err = what the wake raised (or nil)
--
-- then harness_sleep {wake, status = "continue" | "done" | "failed", error}. An error in a
-- wake (a hook or the step) is written as harness_failed and raised after on_sleep; a halt
-- (replay_drift, budget_exceeded, reconciliation_required, cancelled, limit_exceeded) and
-- the host's own trouble (lease_held, storage_error, internal) pass through untouched and
-- write nothing: every later syscall would raise them again. Pauses and sleeps are waits,
-- not errors: a wake that waits simply continues when the run is resumed or woken.
--
-- Between wakes, `between_wakes`: "continue" (the next wake at once, the default),
-- {sleep = seconds} (run:sleep, then the next wake) or "pause" (run:pause: one wake per
-- `artana resume`; the resume's input is the next wake's reorientation.resumed_with).
--
-- ctx = {run, run_id, tenant, wake, model, input}. reorientation = {wake, first, previous =
-- {wake, status, between, resumed_with, unit, unit_state}} (incremental harnesses add
-- `counts`, and `unit`/`unit_state` name the unit the previous wake worked on).
--
-- h:model(ctx or run, request), h:draft(...), h:verify(...): run:model with the harness's
-- `model`, `draft_model`, `verify_model` (the latter two fall back to `model`) and `replay`
-- unless the request names its own. h:set_artifact(key, value) / h:get_artifact(key):
-- run:artifact on the run the harness is running.
--
-- harness.incremental{...base fields but step..., define_tasks, work_on, max_attempts = 3}:
-- units {id, description, state, attempts} (state pending | in_progress | done | failed;
-- attempts: the failed attempts so far), one unit per wake; see Incremental below.
-- harness.test_driven{...incremental fields..., check = {argv, cwd, env, timeout_s},
-- adjudicate = false}: a unit is done only through h:verify_and_commit(ctx, unit_id).
-- harness.supervisor{...base fields...}: h:child(ctx, script, opts) and h:children(ctx,
-- list) over run:child.
--
-- Determinism: a re-execution replays every recorded step from the top, so the harness's
-- state (units, attempts, transitions) must follow from recorded values only. The units
-- are the recorded value of define_tasks' run:step; what a work_on did is recorded in a
-- run:step too (`unit_outcome`) before the harness acts on it; a verification passes on a
-- recorded exec result (and a recorded model answer). Nothing reads the clock or counts
-- anything that differs between a live execution and its replay.
local artana = require "artana"

local fail = artana.fail

local harness = {}

-- ---- errors ----

-- Kinds that are never a unit's or a wake's failure: the kernel's halts, and the host's own
-- trouble. They pass through every pcall here untouched.
local PASSES_THROUGH = {
  replay_drift = true, budget_exceeded = true, reconciliation_required = true,
  cancelled = true, limit_exceeded = true, lease_held = true, storage_error = true,
  internal = true,
}

local function passes_through(err)
  return type(err) == "table" and PASSES_THROUGH[err.kind] == true
end

-- An error as a summary value: {kind, message}. A plain error("text") is a script_error.
local function describe(err)
  if type(err) == "table" then
    local message = err.message
    if message == nil then message = "(no message)" end
    return { kind = type(err.kind) == "string" and err.kind or "script_error",
             message = tostring(message) }
  end
  return { kind = "script_error", message = tostring(err) }
end

-- ---- constructor checks ----

local REPLAY_POLICIES = { strict = true, allow_prompt_drift = true, fork_on_drift = true }

local function of_type(name)
  return function(value) return type(value) == name, "a " .. name end
end

local function check_name(value)
  return type(value) == "string" and #value >= 1 and #value <= 100 and not value:find("/", 1, true),
    "a string of 1 to 100 bytes without '/' (it names the harness's scope)"
end

local function check_replay(value)
  return REPLAY_POLICIES[value] == true, "\"strict\", \"allow_prompt_drift\" or \"fork_on_drift\""
end

local function check_between(value)
  local expected = "\"continue\", \"pause\" or {sleep = seconds > 0}"
  if value == "continue" or value == "pause" then return true end
  if type(value) ~= "table" then return false, expected end
  for key in pairs(value) do
    if key ~= "sleep" then return false, expected end
  end
  return type(value.sleep) == "number" and value.sleep > 0, expected
end

local function check_max_attempts(value)
  return math.type(value) == "integer" and value >= 1, "an integer >= 1"
end

-- check = {argv = {"sh", "check.sh"}, cwd, env, timeout_s}: what run:exec runs to verify.
local CHECK_FIELDS = { argv = true, cwd = true, env = true, timeout_s = true }

local function check_check(value)
  local expected = "{argv = a non-empty list of strings, cwd = string?, env = table?, " ..
    "timeout_s = number?}"
  if type(value) ~= "table" then return false, expected end
  for key in pairs(value) do
    if not CHECK_FIELDS[key] then
      return false, expected .. " (unknown field '" .. tostring(key) .. "')"
    end
  end
  local argv = value.argv
  if type(argv) ~= "table" or #argv == 0 then return false, expected end
  for key, arg in pairs(argv) do
    if math.type(key) ~= "integer" or type(arg) ~= "string" then return false, expected end
  end
  if value.cwd ~= nil and type(value.cwd) ~= "string" then return false, expected end
  if value.env ~= nil and type(value.env) ~= "table" then return false, expected end
  if value.timeout_s ~= nil and type(value.timeout_s) ~= "number" then return false, expected end
  return true
end

-- An incremental harness's step is its own (one unit per wake): naming one is a mistake.
local function own_step()
  return false, "left out: this harness's step is its own (one unit per wake); give work_on"
end

local BASE_FIELDS = {
  name = check_name, step = of_type("function"), on_initialize = of_type("function"),
  on_wake = of_type("function"), on_sleep = of_type("function"), model = of_type("string"),
  draft_model = of_type("string"), verify_model = of_type("string"), replay = check_replay,
  between_wakes = check_between,
}

local function extend(fields, more)
  local out = {}
  for key, check in pairs(fields) do out[key] = check end
  for key, check in pairs(more) do out[key] = check end
  return out
end

local INCREMENTAL_FIELDS = extend(BASE_FIELDS, {
  step = own_step, define_tasks = of_type("function"), work_on = of_type("function"),
  max_attempts = check_max_attempts,
})

local TEST_DRIVEN_FIELDS = extend(INCREMENTAL_FIELDS, {
  check = check_check, adjudicate = of_type("boolean"),
})

-- Refuses a spec that is not a table, has a field not in `fields`, a field of the wrong
-- type, or misses one of `required`; returns a copy (the caller may reuse its table).
local function checked_spec(spec, fields, required, what)
  if type(spec) ~= "table" then
    fail("invalid_argument", what .. " expects a table of fields: " .. what .. " { ... }")
  end
  local config = {}
  for key, value in pairs(spec) do
    local check = type(key) == "string" and fields[key] or nil
    if check == nil then
      fail("invalid_argument", what .. ": unknown field '" .. tostring(key) .. "'")
    end
    local ok, expected = check(value)
    if not ok then
      fail("invalid_argument", what .. ": field '" .. key .. "' must be " .. expected)
    end
    config[key] = value
  end
  for _, key in ipairs(required) do
    if config[key] == nil then
      fail("invalid_argument", what .. ": field '" .. key .. "' is required")
    end
  end
  if config.name == nil then config.name = "harness" end
  if config.between_wakes == nil then config.between_wakes = "continue" end
  return config
end

-- ---- the base harness ----

local Base = {}
Base.__index = Base

local function new_harness(class, config)
  return setmetatable({ name = config.name, config = config }, class)
end

-- The run a method was given: a hook's ctx (ctx.run) or the run object itself.
local function run_of(target, what)
  if type(target) == "table" and rawget(target, "run") ~= nil then return target.run end
  if type(target) == "table" and getmetatable(target) == false then return target end
  fail("invalid_argument", what .. ": the first argument is the hook's ctx (or the run)")
end

function Base:entry()
  return function(run, input) return self:run(run, input) end
end

-- Runs the harness in scope `name` until a wake returns without `more`; returns its result.
function Base:run(run, input)
  self._run = run
  self:_reset()
  return run:scope(self.name, function() return self:_wakes(run, input) end)
end

function Base:_reset() end

function Base:_context(run, input, wake)
  return { run = run, run_id = run.id, tenant = run.tenant, wake = wake,
           model = self.config.model, input = input }
end

function Base:_wakes(run, input)
  local wake, previous = 1, nil
  while true do
    local ctx = self:_context(run, input, wake)
    local result, more = run:scope("wake:" .. wake, function()
      return self:_wake(ctx, previous)
    end)
    if not more then return result end
    previous = self:_between_wakes(run, wake)
    wake = wake + 1
  end
end

-- What happens between wake n and n + 1; returns `previous` for the next reorientation.
function Base:_between_wakes(run, wake)
  local mode = self.config.between_wakes
  local previous = { wake = wake, status = "continue" }
  if mode == "continue" then
    previous.between = "continue"
  elseif mode == "pause" then
    previous.between = "pause"
    previous.resumed_with = run:pause("harness '" .. self.name .. "' finished wake " .. wake ..
      ": resume to start wake " .. (wake + 1), self:_pause_context(wake))
  else
    previous.between = "sleep"
    run:sleep(mode.sleep)
  end
  return previous
end

function Base:_pause_context(wake)
  return { harness = self.name, wake = wake }
end

function Base:_reorientation(ctx, previous)
  return { wake = ctx.wake, first = previous == nil, previous = previous }
end

-- One wake: the hooks and the step, on_sleep whatever happened, the summaries.
function Base:_wake(ctx, previous)
  local ok, result, more = pcall(self._wake_body, self, ctx, previous)
  local err = nil
  if not ok then err = result end
  if err ~= nil and passes_through(err) then
    -- on_sleep is still told; anything it raises would only be the halt again.
    if self.config.on_sleep then pcall(self.config.on_sleep, self, ctx, err) end
    error(err, 0)
  end
  err = self:_call_on_sleep(ctx, err)
  if err == nil then
    -- The rules a wake must leave intact are checked last: on_sleep may be what broke them.
    local checked, broken = pcall(self._check_sleep, self, ctx)
    if not checked then
      if passes_through(broken) then error(broken, 0) end
      err = broken
    end
  end
  local status = err ~= nil and "failed" or (more and "continue" or "done")
  ctx.run:summary("harness_sleep", { harness = self.name, wake = ctx.wake, status = status,
                                     error = err ~= nil and describe(err) or nil })
  if err ~= nil then
    ctx.run:summary("harness_failed", { harness = self.name, wake = ctx.wake,
                                        error = describe(err) })
    error(err, 0)
  end
  return result, more
end

-- Calls on_sleep(h, ctx, err); returns the wake's error: `err`, else what on_sleep raised.
function Base:_call_on_sleep(ctx, err)
  local on_sleep = self.config.on_sleep
  if on_sleep == nil then return err end
  local ok, raised = pcall(on_sleep, self, ctx, err)
  if ok then return err end
  if passes_through(raised) then error(raised, 0) end
  if err ~= nil then return err end
  return raised
end

function Base:_wake_body(ctx, previous)
  local config = self.config
  if ctx.wake == 1 then
    if config.on_initialize then config.on_initialize(self, ctx) end
    self:_initialize(ctx)
    ctx.run:summary("harness_initialized", self:_initialized_value(ctx))
  end
  local reorientation = self:_reorientation(ctx, previous)
  ctx.run:summary("harness_wake", { harness = self.name, wake = ctx.wake,
                                    reorientation = reorientation })
  self:_wake_begin(ctx)
  if config.on_wake then config.on_wake(self, ctx, reorientation) end
  return self:_step(ctx)
end

function Base:_initialize() end

function Base:_initialized_value(ctx)
  return { harness = self.name, wake = ctx.wake }
end

function Base:_wake_begin() end

function Base:_step(ctx)
  return self.config.step(self, ctx)
end

function Base:_check_sleep() end

-- run:model with the harness's model names and replay policy as defaults.
local function model_call(self, target, request, model_field, what)
  local run = run_of(target, what)
  if type(request) ~= "table" then
    fail("invalid_argument", what .. "(ctx, request): request must be a table")
  end
  local copy = {}
  for key, value in pairs(request) do copy[key] = value end
  if copy.model == nil then copy.model = self.config[model_field] or self.config.model end
  if copy.model == nil then
    fail("invalid_argument", what .. ": no model: set the harness's '" .. model_field ..
      "' (or 'model'), or the request's model")
  end
  if copy.replay == nil then copy.replay = self.config.replay end
  return run:model(copy)
end

function Base:model(target, request)
  return model_call(self, target, request, "model", "h:model")
end

function Base:draft(target, request)
  return model_call(self, target, request, "draft_model", "h:draft")
end

function Base:verify(target, request)
  return model_call(self, target, request, "verify_model", "h:verify")
end

local function running_run(self, what)
  if self._run == nil then
    fail("harness_state", what .. " is for a harness that is running (inside h:run)")
  end
  return self._run
end

function Base:set_artifact(key, value)
  if value == nil then fail("invalid_argument", "h:set_artifact(key, value): value is nil") end
  running_run(self, "h:set_artifact"):artifact(key, value)
end

function Base:get_artifact(key)
  return running_run(self, "h:get_artifact"):artifact(key)
end

function harness.base(spec)
  return new_harness(Base, checked_spec(spec, BASE_FIELDS, { "step" }, "harness.base"))
end

-- ---- the incremental harness ----
--
-- define_tasks(h, ctx) runs once, on wake 1 inside run:step "define_tasks": its units are
-- recorded, so a replay or a reloaded script keeps them even if define_tasks would now
-- return others (and it may make no syscalls). A unit may carry more fields than id and
-- description (a path, a spec): work_on gets them as they are. Each wake the first pending
-- unit goes in_progress and work_on(h, unit, ctx) runs; it returns: done; it raises (not a
-- halt, not harness_state): pending again with attempts + 1, or failed once attempts
-- reaches max_attempts (attempts counts failed attempts). The wake that settles the last
-- pending unit returns {units, done, failed} (done and failed are counts). Every
-- transition writes task_progress {unit, from, to, attempt, counts, error?} keyed
-- task/<id>/<to>/<attempt> (`attempt` counts from 1; every 100th also carries `units`),
-- and each wake ends by writing the artifact progress = {wake, counts, current} (`current`:
-- the unit that wake worked on). The harness keeps its own copy of each unit's state:
-- h.units is what hooks see, and a wake that leaves a unit in_progress, two units newly
-- done, or a state the harness did not set is harness_state.

local Incremental = setmetatable({}, { __index = Base })
Incremental.__index = Incremental

local TRANSITIONS_PER_SNAPSHOT = 100
local MAX_UNIT_ID_BYTES = 200 -- task/<id>/<state>/<attempt> stays within a key's 400 bytes

-- Checks define_tasks' value; returns a copy (the units as they are recorded).
local function checked_units(units)
  if type(units) ~= "table" or #units == 0 then
    fail("task_invalid", "define_tasks must return a non-empty list of units {id, description}")
  end
  local seen, list = {}, {}
  for key in pairs(units) do
    if math.type(key) ~= "integer" or key < 1 or key > #units then
      fail("task_invalid", "define_tasks must return a list (1..n), not a table keyed '" ..
        tostring(key) .. "'")
    end
  end
  for i, unit in ipairs(units) do
    if type(unit) ~= "table" then fail("task_invalid", "unit #" .. i .. " is not a table") end
    local id = unit.id
    if type(id) ~= "string" or id == "" then
      fail("task_invalid", "unit #" .. i .. " needs an id: a non-empty string")
    end
    if #id > MAX_UNIT_ID_BYTES then
      fail("task_invalid", "unit #" .. i .. ": an id is at most " .. MAX_UNIT_ID_BYTES .. " bytes")
    end
    if seen[id] then fail("task_invalid", "unit id '" .. id .. "' is used twice") end
    seen[id] = true
    if type(unit.description) ~= "string" or unit.description == "" then
      fail("task_invalid", "unit '" .. id .. "' has no description")
    end
    if unit.state ~= nil or unit.attempts ~= nil then
      fail("task_invalid", "unit '" .. id .. "': state and attempts are the harness's to set")
    end
    local copy = {}
    for field, value in pairs(unit) do copy[field] = value end
    list[i] = copy
  end
  return list
end

function Incremental:_reset()
  self.units = nil      -- what hooks see: {id, description, state, attempts, ...}
  self._order = {}      -- unit ids, in order
  self._state = {}      -- id -> {state, attempts, index, description}: the harness's own
  self._transitions = 0 -- in this execution: replays count the same
  self._last = nil      -- {unit, state} the last wake settled
end

function Incremental:_initialize(ctx)
  local define_tasks = self.config.define_tasks
  local units = ctx.run:step("define_tasks", function()
    return checked_units(define_tasks(self, ctx))
  end)
  self.units = {}
  for i, unit in ipairs(units) do
    unit.state, unit.attempts = "pending", 0
    self.units[i] = unit
    self._order[i] = unit.id
    self._state[unit.id] = { state = "pending", attempts = 0, index = i,
                             description = unit.description }
  end
end

function Incremental:counts()
  local counts = { pending = 0, in_progress = 0, done = 0, failed = 0 }
  for _, id in ipairs(self._order) do
    local state = self._state[id].state
    counts[state] = counts[state] + 1
  end
  return counts
end

-- The units as the harness records them: {id, description, state, attempts}.
function Incremental:_snapshot()
  local list = {}
  for i, id in ipairs(self._order) do
    local record = self._state[id]
    list[i] = { id = id, description = record.description,
                state = record.state, attempts = record.attempts }
  end
  return artana.array(list)
end

function Incremental:_initialized_value(ctx)
  return { harness = self.name, wake = ctx.wake, units = self:_snapshot(), counts = self:counts() }
end

function Incremental:_pause_context(wake)
  return { harness = self.name, wake = wake, counts = self:counts() }
end

function Incremental:_reorientation(ctx, previous)
  local reorientation = Base._reorientation(self, ctx, previous)
  reorientation.counts = self:counts()
  if previous ~= nil and self._last ~= nil then
    previous.unit, previous.unit_state = self._last.unit, self._last.state
  end
  return reorientation
end

function Incremental:_wake_begin()
  self._done_before = {}
  for _, id in ipairs(self._order) do
    if self._state[id].state == "done" then self._done_before[id] = true end
  end
  self._done_in_wake = nil
  self._current = nil
end

function Incremental:_first_pending()
  for _, id in ipairs(self._order) do
    if self._state[id].state == "pending" then return id end
  end
  return nil
end

function Incremental:_result()
  local counts = self:counts()
  return { units = self:_snapshot(), done = counts.done, failed = counts.failed }
end

-- Moves unit `id` to `to`, writing task_progress. `attempt` is the attempt this transition
-- belongs to (from 1).
function Incremental:_transition(run, id, to, attempt, err)
  local record = self._state[id]
  local from = record.state
  if to == "done" then
    if self._done_in_wake ~= nil then
      fail("harness_state", "units '" .. self._done_in_wake .. "' and '" .. id ..
        "' both reached done in one wake: one unit per wake")
    end
    self._done_in_wake = id
  end
  record.state = to
  local unit = self.units[record.index]
  if type(unit) == "table" then unit.state, unit.attempts = to, record.attempts end
  self._transitions = self._transitions + 1
  local value = { unit = id, from = from, to = to, attempt = attempt, counts = self:counts(),
                  error = err }
  if self._transitions % TRANSITIONS_PER_SNAPSHOT == 0 then value.units = self:_snapshot() end
  run:summary("task_progress", value, { key = "task/" .. id .. "/" .. to .. "/" .. attempt })
end

-- One failed attempt of unit `id`: pending again, or failed at max_attempts.
function Incremental:_fail_attempt(run, id, err)
  local record = self._state[id]
  record.attempts = record.attempts + 1
  local to = record.attempts >= (self.config.max_attempts or 3) and "failed" or "pending"
  self:_transition(run, id, to, record.attempts, err)
end

function Incremental:_step(ctx)
  local id = self:_first_pending()
  if id == nil then return self:_result(), false end
  local record = self._state[id]
  self._current = id
  self:_transition(ctx.run, id, "in_progress", record.attempts + 1)
  local ok, err = pcall(self.config.work_on, self, self.units[record.index], ctx)
  -- A halt is not the unit's failure, and a broken harness rule (harness_state, say a
  -- verification of another unit) is the wake's: neither is an attempt of this unit.
  if not ok and (passes_through(err) or (type(err) == "table" and err.kind == "harness_state")) then
    error(err, 0)
  end
  -- What work_on did is recorded before the harness acts on it: a replay (or reloaded code)
  -- settles the unit as the run did, whatever the code would do now.
  local outcome = ctx.run:step("unit_outcome", function()
    if ok then return { ok = true } end
    return { ok = false, error = describe(err) }
  end)
  self:_settle(ctx, id, outcome)
  self._last = { unit = id, state = record.state }
  ctx.run:artifact("progress", { wake = ctx.wake, counts = self:counts(), current = id })
  if self:_first_pending() == nil then return self:_result(), false end
  return { wake = ctx.wake, unit = id, state = record.state }, true
end

-- Settles the unit work_on worked on from its recorded outcome.
function Incremental:_settle(ctx, id, outcome)
  if outcome.ok then
    self:_transition(ctx.run, id, "done", self._state[id].attempts + 1)
  else
    self:_fail_attempt(ctx.run, id, outcome.error)
  end
end

-- The units at the end of a wake: none in progress, at most one newly done, and each as
-- the harness set it (hooks see h.units; changing them is not how a unit moves).
function Incremental:_check_sleep(ctx)
  if self.units == nil then return end
  local newly_done = {}
  for i, id in ipairs(self._order) do
    local unit, record = self.units[i], self._state[id]
    if type(unit) ~= "table" or unit.id ~= id then
      fail("harness_state", "h.units[" .. i .. "] is no longer unit '" .. id .. "'")
    end
    if unit.state == "in_progress" then
      fail("harness_state", "unit '" .. id .. "' is still in_progress at the end of wake " ..
        ctx.wake .. ": a unit is settled in the wake that starts it")
    end
    if unit.state == "done" and not self._done_before[id] then newly_done[#newly_done + 1] = id end
  end
  if #newly_done > 1 then
    fail("harness_state", "units '" .. table.concat(newly_done, "', '") ..
      "' all reached done in wake " .. ctx.wake .. ": one unit per wake")
  end
  for i, id in ipairs(self._order) do
    local unit, record = self.units[i], self._state[id]
    if unit.state ~= record.state or unit.attempts ~= record.attempts then
      fail("harness_state", "unit '" .. id .. "' was changed outside the harness (state '" ..
        tostring(unit.state) .. "', attempts " .. tostring(unit.attempts) .. "; the harness " ..
        "recorded '" .. record.state .. "', " .. record.attempts .. ")")
    end
  end
end

function harness.incremental(spec)
  return new_harness(Incremental, checked_spec(spec, INCREMENTAL_FIELDS,
    { "define_tasks", "work_on" }, "harness.incremental"))
end

-- ---- the test-driven harness ----
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
-- needs workspace:write.

local TestDriven = setmetatable({}, { __index = Incremental })
TestDriven.__index = TestDriven

local function adjudication_prompt(id, description, check, result)
  return "Unit '" .. id .. "': " .. description .. "\nThe check `" ..
    table.concat(check.argv, " ") .. "` exited with code 0.\nstdout:\n" .. result.stdout ..
    "\nstderr:\n" .. result.stderr .. "\nIs the unit's work really done? Answer passed " ..
    "(true or false) and your reasoning."
end

function TestDriven:verify_and_commit(ctx, unit_id)
  local run = run_of(ctx, "h:verify_and_commit(ctx, unit_id)")
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
function TestDriven:_settle(ctx, id, outcome)
  if self._state[id].state ~= "in_progress" then return end
  self:_fail_attempt(ctx.run, id, outcome.error or
    { kind = "not_verified", message = "work_on returned without a passing h:verify_and_commit" })
end

function harness.test_driven(spec)
  local config = checked_spec(spec, TEST_DRIVEN_FIELDS, { "define_tasks", "work_on", "check" },
    "harness.test_driven")
  if config.adjudicate and config.verify_model == nil and config.model == nil then
    fail("invalid_argument", "harness.test_driven: adjudicate = true needs verify_model (or model)")
  end
  return new_harness(TestDriven, config)
end

-- ---- the supervisor ----
--
-- A base harness whose step starts child runs: h:child(ctx, script, opts) runs
-- ctx.run:child(script, opts) (-> {output, status, run_id, replayed}; raises child_failed
-- when the child fails) and writes supervisor_child {script, run_id, status};
-- h:children(ctx, list) runs several at once through run:parallel, results in the list's
-- order. A list item is a script path or {script = path, opts = {...}}.

local Supervisor = setmetatable({}, { __index = Base })
Supervisor.__index = Supervisor

function Supervisor:child(ctx, script, opts)
  local run = run_of(ctx, "h:child(ctx, script, opts)")
  if type(script) ~= "string" or script == "" then
    fail("invalid_argument", "h:child(ctx, script, opts): script must be a non-empty string")
  end
  if opts ~= nil and type(opts) ~= "table" then
    fail("invalid_argument", "h:child(ctx, script, opts): opts must be a table")
  end
  if run.child == nil then
    fail("harness_state", "h:child needs run:child, which this host does not provide")
  end
  local ok, result = pcall(run.child, run, script, opts)
  if not ok then
    if type(result) == "table" and result.kind == "child_failed" then
      run:summary("supervisor_child", { script = script, run_id = result.run_id,
                                        status = "failed" })
    end
    error(result, 0)
  end
  run:summary("supervisor_child", { script = script, run_id = result.run_id,
                                    status = result.status })
  return result
end

local function child_item(item, i)
  if type(item) == "string" then return item, nil end
  if type(item) == "table" then
    for key in pairs(item) do
      if key ~= "script" and key ~= "opts" then
        fail("invalid_argument", "h:children: item #" .. i .. " has an unknown field '" ..
          tostring(key) .. "' (script, opts)")
      end
    end
    return item.script, item.opts
  end
  fail("invalid_argument", "h:children: item #" .. i .. " is a script or {script, opts}")
end

function Supervisor:children(ctx, list)
  local run = run_of(ctx, "h:children(ctx, list)")
  if type(list) ~= "table" then
    fail("invalid_argument", "h:children(ctx, list): list must be a table")
  end
  local size = 0
  for _ in pairs(list) do size = size + 1 end
  if size ~= #list then
    fail("invalid_argument", "h:children(ctx, list): list must be a list (1..n)")
  end
  local branches = {}
  for i, item in ipairs(list) do
    local script, opts = child_item(item, i)
    branches[i] = function() return self:child(ctx, script, opts) end
  end
  if #branches == 0 then return artana.array() end
  return run:parallel(branches)
end

function harness.supervisor(spec)
  return new_harness(Supervisor, checked_spec(spec, BASE_FIELDS, { "step" }, "harness.supervisor"))
end

return harness
