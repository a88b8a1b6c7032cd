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
-- task/<id>/<to>/<attempt> (`attempt` counts from 1; every 100th also carries `units`, the
-- full list; past 1 000 units, ten lists in a run, every n/5th transition, so a list costs a
-- unit five rows of recording and a step stays O(1) in the number of units),
-- and each wake ends by writing the artifact progress = {wake, counts, current} (`current`:
-- the unit that wake worked on). h.units is a read-only view of the harness's own records
-- (ipairs, pairs, #, fields and JSON see them): writing a unit's id, description, state or
-- attempts, or replacing a unit, is harness_state at the write (a unit moves only by its
-- transitions); other fields of a unit are the script's to write.
--
-- Determinism: the units are the recorded value of define_tasks' run:step, and what a
-- work_on did is recorded by the transition it caused (task_progress, a step): a
-- re-execution whose work_on ends otherwise (returns where it raised, or another error) is
-- drift, decided by the replay policy. An error's message is recorded without Lua's
-- "file:line:" prefix, so a hot reload that only moves code is not drift. Reorientation adds
-- `counts`, and `previous.unit`/`previous.unit_state` name the unit the previous wake
-- worked on. A wake's bookkeeping is O(1) in the number of units.
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

local TRANSITIONS_PER_SNAPSHOT = 100 -- the full list every 100th transition ...
local EVERY_100TH_UP_TO_UNITS = 1000  -- ... up to 1 000 units; past that,
local SNAPSHOTS_PER_RUN = 10          -- ten in a run (a unit makes two transitions)
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

-- What a hook may not write in a unit: the harness's.
local OWNED = { id = true, description = true, state = true, attempts = true }

-- A read-only view of `record` (a unit as the harness keeps it).
local function unit_view(record)
  return setmetatable({}, {
    __index = record,
    __newindex = function(_, field, value)
      if OWNED[field] then
        fail("harness_state", "unit '" .. record.id .. "': " .. tostring(field) .. " is the " ..
          "harness's to set (a unit moves by its transitions, not by writing h.units)")
      end
      record[field] = value
    end,
    __pairs = function() return pairs(record) end,
    __artana_json = record,
    __metatable = "artana.unit",
  })
end

-- The read-only list of unit views; `records` is what it crosses as JSON.
local function list_view(views, records)
  return setmetatable({}, {
    __index = views,
    __newindex = function(_, key)
      fail("harness_state", "h.units[" .. tostring(key) .. "]: the units are the harness's " ..
        "(define_tasks gives them, once)")
    end,
    __len = function() return #views end,
    __pairs = function() return ipairs(views) end,
    __artana_json = records,
    __metatable = "artana.units",
  })
end

function Incremental:_reset()
  self.units = nil      -- what hooks see: list_view of unit_view's
  self._order = {}      -- unit ids, in order
  self._state = {}      -- id -> {id, description, state, attempts, ...}: the harness's own
  self._views = {}      -- the view of each unit, in order
  self._rows = nil      -- artana.array of {id, description, state, attempts}, in order: kept
                        -- as units move, so recording the full list builds nothing
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
  local records, rows = {}, {}
  for i, unit in ipairs(units) do
    unit.state, unit.attempts = "pending", 0
    records[i] = unit
    rows[i] = { id = unit.id, description = unit.description, state = "pending", attempts = 0 }
    self._order[i] = unit.id
    self._state[unit.id] = unit
    self._views[i] = unit_view(unit)
  end
  self.units = list_view(self._views, artana.array(records))
  self._rows = artana.array(rows)
  self._index = {}
  for i, id in ipairs(self._order) do self._index[id] = i end
  self._counts.pending = #units
  local n = #units
  self._snapshot_every = TRANSITIONS_PER_SNAPSHOT
  if n > EVERY_100TH_UP_TO_UNITS then
    self._snapshot_every = (2 * n + SNAPSHOTS_PER_RUN - 1) // SNAPSHOTS_PER_RUN
  end
end

--- h:counts(): how many units are in each state {pending, in_progress, done, failed}.
function Incremental:counts()
  local counts = self._counts
  return { pending = counts.pending, in_progress = counts.in_progress, done = counts.done,
           failed = counts.failed }
end

-- The units as the harness records them: {id, description, state, attempts}, a copy.
function Incremental:_snapshot()
  local list = {}
  for i, row in ipairs(self._rows) do
    list[i] = { id = row.id, description = row.description, state = row.state,
                attempts = row.attempts }
  end
  return artana.array(list)
end

function Incremental:_initialized_value(ctx)
  return { harness = self.name, wake = ctx.wake, units = self._rows, counts = self:counts() }
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
  local index = self._index[id]
  record.state = to
  local row = self._rows[index]
  row.state, row.attempts = to, record.attempts
  self._counts[from] = self._counts[from] - 1
  self._counts[to] = self._counts[to] + 1
  if to == "pending" and index < self._next then self._next = index end
  self._transitions = self._transitions + 1
  -- self._counts itself: run:summary converts it before returning, and a replay does not
  -- convert it at all, so no copy is made.
  local value = { unit = id, from = from, to = to, attempt = attempt, counts = self._counts,
                  error = err }
  -- The rows themselves: run:summary converts them at once, and nothing else sees them.
  if self._transitions % self._snapshot_every == 0 then value.units = self._rows end
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
  local ok, err = pcall(self.config.work_on, self, self._views[self._index[id]], ctx)
  -- A halt is not the unit's failure, and a broken harness rule (harness_state, say a
  -- verification of another unit) is the wake's: neither is an attempt of this unit.
  if not ok and (common.passes_through(err) or
                 (type(err) == "table" and err.kind == "harness_state")) then
    error(err, 0)
  end
  self:_settle(ctx, id, ok, err)
  self._last = { unit = id, state = record.state }
  ctx.run:artifact("progress", { wake = ctx.wake, counts = self._counts, current = id })
  if self:_first_pending() == nil then return self:_result(), false end
  return { wake = ctx.wake, unit = id, state = record.state }, true
end

-- Settles the unit work_on worked on: done when it returned, else a failed attempt.
function Incremental:_settle(ctx, id, ok, err)
  if ok then
    self:_transition(ctx.run, id, "done", self._state[id].attempts + 1)
  else
    self:_fail_attempt(ctx.run, id, common.describe(err))
  end
end

-- The rules a wake leaves intact, on the harness's own records (h.units cannot change
-- them): the unit of the wake is settled. Two units done in one wake are refused when the
-- second moves (_transition).
function Incremental:_check_sleep(ctx)
  local current = self._current
  if current ~= nil and self._state[current].state == "in_progress" then
    fail("harness_state", "unit '" .. current .. "' is still in_progress at the end of wake " ..
      ctx.wake .. ": a unit is settled in the wake that starts it")
  end
end

--- harness.incremental(spec)
function M.new(spec)
  return base.new_harness(Incremental, fields.checked_spec(spec, fields.INCREMENTAL,
    { "define_tasks", "work_on" }, "harness.incremental"))
end

return M
