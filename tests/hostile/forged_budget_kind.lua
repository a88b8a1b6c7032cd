-- expect: failed script_error
-- A script cannot pick its exit code (this exited 5, as if the kernel had halted the run).
return function(run) error({ kind = "budget_exceeded", message = "forged" }) end
