--- The base harness: a series of wakes in the harness's scope, each a set of hooks around a
-- step, with its summaries, what happens between wakes, and the model and artifact helpers
-- every harness has. The other harnesses are this class with some methods replaced.
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
-- and the host's own trouble (common.passes_through) pass through untouched and write
-- nothing: every later syscall would raise them again. Pauses and sleeps are waits, not
-- errors: a wake that waits simply continues when the run is resumed or woken.
--
-- Between wakes, `between_wakes`: "continue" (the next wake at once, the default),
-- {sleep = seconds} (run:sleep, then the next wake) or "pause" (run:pause: one wake per
-- `artana resume`; the resume's input is the next wake's reorientation.resumed_with).
--
-- ctx = {run, run_id, tenant, wake, model, input}. reorientation = {wake, first, previous =
-- {wake, status, between, resumed_with}}.
-- @module artana.harness.base
local artana = require "artana"
local common = require "artana.harness.common"
local fields = require "artana.harness.fields"

local fail = artana.fail
local passes_through, describe = common.passes_through, common.describe

local M = {}

local Base = {}
Base.__index = Base
M.Base = Base

--- A harness of `class` (Base or a class derived from it) with a checked config.
function M.new_harness(class, config)
  return setmetatable({ name = config.name, config = config }, class)
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

-- The methods a derived harness replaces: its own state, what wake 1 sets up, what the
-- summaries and reorientation carry, what a wake does and what it must leave intact.
function Base:_reset() end

function Base:_initialize() end

function Base:_initialized_value(ctx)
  return { harness = self.name, wake = ctx.wake }
end

function Base:_pause_context(wake)
  return { harness = self.name, wake = wake }
end

function Base:_reorientation(ctx, previous)
  return { wake = ctx.wake, first = previous == nil, previous = previous }
end

function Base:_wake_begin() end

function Base:_step(ctx)
  return self.config.step(self, ctx)
end

function Base:_check_sleep() end

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

-- ---- models and artifacts ----

-- run:model with the harness's model names and replay policy as defaults.
local function model_call(self, target, request, model_field, what)
  local run = common.run_of(target, what)
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

--- h:model(ctx or run, request): run:model with the harness's `model` and `replay`.
function Base:model(target, request)
  return model_call(self, target, request, "model", "h:model")
end

--- h:draft(...): the same with `draft_model` (else `model`).
function Base:draft(target, request)
  return model_call(self, target, request, "draft_model", "h:draft")
end

--- h:verify(...): the same with `verify_model` (else `model`).
function Base:verify(target, request)
  return model_call(self, target, request, "verify_model", "h:verify")
end

local function running_run(self, what)
  if self._run == nil then
    fail("harness_state", what .. " is for a harness that is running (inside h:run)")
  end
  return self._run
end

--- h:set_artifact(key, value): run:artifact on the run the harness is running.
function Base:set_artifact(key, value)
  if value == nil then fail("invalid_argument", "h:set_artifact(key, value): value is nil") end
  running_run(self, "h:set_artifact"):artifact(key, value)
end

--- h:get_artifact(key): the artifact's latest value.
function Base:get_artifact(key)
  return running_run(self, "h:get_artifact"):artifact(key)
end

--- harness.base(spec)
function M.new(spec)
  return M.new_harness(Base, fields.checked_spec(spec, fields.BASE, { "step" }, "harness.base"))
end

return M
