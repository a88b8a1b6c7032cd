-- expect: failed script_error
-- `lease_held` once left the run running forever (the host took it for another owner).
return function(run) error({ kind = "lease_held", message = "forged" }) end
