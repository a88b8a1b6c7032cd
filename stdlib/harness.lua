-- artana.harness: long-running work as a series of wakes on the durable kernel.
--
--   local harness = require "artana.harness"
--   local h = harness.incremental { name = "release", define_tasks = ..., work_on = ... }
--   return h:entry()
--
-- harness.base{name, step, on_initialize, on_wake, on_sleep, model, draft_model,
-- verify_model, replay, between_wakes}: wakes in scope `name`, each on_initialize (wake 1),
-- on_wake, step, on_sleep, with their summaries; the next wake at once, after a sleep or
-- after a pause (artana.harness.base). h:model/draft/verify, h:set_artifact/get_artifact.
-- harness.incremental{...base fields but step..., define_tasks, work_on, max_attempts = 3}:
-- units {id, description, state, attempts}, one per wake (artana.harness.incremental).
-- harness.test_driven{...incremental fields..., check = {argv, cwd, env, timeout_s},
-- adjudicate = false}: a unit is done only through h:verify_and_commit(ctx, unit_id)
-- (artana.harness.test_driven).
-- harness.supervisor{...base fields...}: h:child(ctx, script, opts) and h:children(ctx,
-- list) over run:child (artana.harness.supervisor).
-- A constructor refuses an unknown, mistyped or missing field by name (artana.harness.fields).
--
-- Determinism: a re-execution replays every recorded step from the top, so the harness's
-- state (units, attempts, transitions) must follow from recorded values only. The units
-- are the recorded value of define_tasks' run:step; what a work_on did is recorded by the
-- transition it caused (task_progress, a step: an execution whose work_on ends otherwise is
-- drift); a verification passes on a recorded exec result (and a recorded model answer). Nothing reads the clock or counts
-- anything that differs between a live execution and its replay.
local base = require "artana.harness.base"
local incremental = require "artana.harness.incremental"
local test_driven = require "artana.harness.test_driven"
local supervisor = require "artana.harness.supervisor"

return {
  base = base.new,
  incremental = incremental.new,
  test_driven = test_driven.new,
  supervisor = supervisor.new,
}
