-- expect: completed
-- An integral double beyond 2^53 was recorded and then unreadable (the run and the ledger).
return function(run) return { ns = run:now() * 1e9, big = 2^60, e20 = 1e20 } end
