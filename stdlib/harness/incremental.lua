--- The incremental harness: a base harness whose step is its own, one unit of work per wake.
--
-- define_tasks(h, ctx) runs once, on wake 1 inside run:step "define_tasks": its units are
-- recorded, so a replay or a reloaded script keeps them even if define_tasks would now
-- return others (and it may make no syscalls). A unit may carry more fields than id and
-- description (a path, a spec): work_on gets them as they are. Each wake the first pending
-- unit goes in_progress and work_on(h, unit, ctx) runs; it returns: done; it raises (not a
-- halt, not harness_state): pending again with attempts + 1, or failed once attempts
-- reaches max_attempts (3 unless set; attempts counts failed attempts). The wake that
-- settles the last pending unit returns {units, done, failed} (done and failed are counts).
-- Every transition writes task_progress {unit, from, to, attempt, counts, error?} keyed
-- task/<id>/<to>/<attempt> (`attempt` counts from 1; every 100th also carries `units`),
-- and each wake ends by writing the artifact progress = {wake, counts, current} (`current`:
-- the unit that wake worked on). The harness keeps its own copy of each unit's state:
-- h.units is what hooks see, and a wake that leaves a unit in_progress, two units newly
-- done, or a state the harness did not set is harness_state.
--
-- Determinism: the units are the recorded value of define_tasks' run:step, and what a
-- work_on did is recorded in a run:step too (`unit_outcome`) before the harness acts on it,
-- so a re-execution settles every unit as the run did. Reorientation adds `counts`, and
-- `previous.unit`/`previous.unit_state` name the unit the previous wake worked on.
-- @module artana.harness.incremental
local artana = require "artana"
local base = require "artana.harness.base"
local common = require "artana.harness.common"
local fields = require "artana.harness.fields"

local fail = artana.fail
local Base = base.Base

local M = {}

local Incremental = setmetatable({}, { __index = Base })
Incremental.__index = Incremental
M.Incremental = Incremental

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

-- A wake's bookkeeping is O(1) in the number of units: counts are kept as units move, and
-- the first pending unit is found from a cursor. (_check_sleep must still look at every
-- unit a hook could have changed, and every 100th transition lists them all.)
function Incremental:_reset()
  self.units = nil      -- what hooks see: {id, description, state, attempts, ...}
  self._order = {}      -- unit ids, in order
  self._state = {}      -- id -> {state, attempts, index, description, unit = the table
                        -- hooks were given}: the harness's own
  self._counts = { pending = 0, in_progress = 0, done = 0, failed = 0 }
  self._next = 1        -- every unit before _order[_next] is not pending
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
                             description = unit.description, unit = unit }
  end
  self._counts.pending = #units
end

--- h:counts(): how many units are in each state {pending, in_progress, done, failed}.
function Incremental:counts()
  local counts = self._counts
  return { pending = counts.pending, in_progress = counts.in_progress, done = counts.done,
           failed = counts.failed }
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
  self._done_in_wake = nil
  self._current = nil
end

function Incremental:_first_pending()
  local order, state, i = self._order, self._state, self._next
  while order[i] ~= nil and state[order[i]].state ~= "pending" do i = i + 1 end
  self._next = i
  return order[i]
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
  self._counts[from] = self._counts[from] - 1
  self._counts[to] = self._counts[to] + 1
  if to == "pending" and record.index < self._next then self._next = record.index end
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
  if not ok and (common.passes_through(err) or
                 (type(err) == "table" and err.kind == "harness_state")) then
    error(err, 0)
  end
  -- What work_on did is recorded before the harness acts on it: a replay (or reloaded code)
  -- settles the unit as the run did, whatever the code would do now.
  local outcome = ctx.run:step("unit_outcome", function()
    if ok then return { ok = true } end
    return { ok = false, error = common.describe(err) }
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
-- the harness set it (hooks see h.units; changing them is not how a unit moves). The one
-- part of a wake that grows with the number of units, so one pass, and a unit as the
-- harness left it (its own table, state and attempts, not the unit of this wake) takes a
-- short test; any other takes every rule, the errors in this order: a replaced or
-- in-progress unit at once, then two units newly done, then a unit changed outside.
function Incremental:_check_sleep(ctx)
  local units = self.units
  if units == nil then return end
  local order, states, done_in_wake = self._order, self._state, self._done_in_wake
  local newly_done, changed = {}, nil
  for i = 1, #order do
    local id, unit = order[i], units[i]
    local record = states[id]
    if unit ~= record.unit or unit.id ~= id or unit.state ~= record.state or
       unit.attempts ~= record.attempts or record.state == "in_progress" or id == done_in_wake then
      if type(unit) ~= "table" or unit.id ~= id then
        fail("harness_state", "h.units[" .. i .. "] is no longer unit '" .. id .. "'")
      end
      local state = unit.state
      if state == "in_progress" then
        fail("harness_state", "unit '" .. id .. "' is still in_progress at the end of wake " ..
          ctx.wake .. ": a unit is settled in the wake that starts it")
      end
      -- Done is final, so the units done before this wake are the harness's done ones but
      -- the one it settled in this wake.
      if state == "done" and (record.state ~= "done" or id == done_in_wake) then
        newly_done[#newly_done + 1] = id
      end
      if changed == nil and (state ~= record.state or unit.attempts ~= record.attempts) then
        changed = i
      end
    end
  end
  if #newly_done > 1 then
    fail("harness_state", "units '" .. table.concat(newly_done, "', '") ..
      "' all reached done in wake " .. ctx.wake .. ": one unit per wake")
  end
  if changed ~= nil then
    local id, unit = order[changed], units[changed]
    local record = states[id]
    fail("harness_state", "unit '" .. id .. "' was changed outside the harness (state '" ..
      tostring(unit.state) .. "', attempts " .. tostring(unit.attempts) .. "; the harness " ..
      "recorded '" .. record.state .. "', " .. record.attempts .. ")")
  end
end

--- harness.incremental(spec)
function M.new(spec)
  return base.new_harness(Incremental, fields.checked_spec(spec, fields.INCREMENTAL,
    { "define_tasks", "work_on" }, "harness.incremental"))
end

return M
