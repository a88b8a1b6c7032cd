-- expect: failed script_error
-- run:parallel raises a branch's error again in the parent, as the host: a forged kind must
-- not pass for the host's own there either.
return function(run)
  run:parallel { a = function() error({ kind = "budget_exceeded", message = "forged" }) end }
end
