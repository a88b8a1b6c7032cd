-- expect: failed script_error
-- The message could not be recorded: the run stayed running and a worker re-ran it forever.
return function(run) error("\255bad\0nul") end
