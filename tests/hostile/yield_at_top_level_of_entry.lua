-- expect: failed
-- A top-level coroutine.yield in the entry once aborted the whole process.
return function(run) coroutine.yield() end
