-- expect: failed limit_exceeded
-- Lua calls a message handler where the error was raised; raised by the instruction limit's
-- hook, hooks stayed off and this spun at 100 % CPU until SIGKILL.
return function(run)
  xpcall(function() while true do end end, function(e) while true do end end)
end
