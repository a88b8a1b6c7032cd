-- expect: failed limit_exceeded
return function(run)
  run:now()
  xpcall(function() error("x") end, function(e) while true do end end)
end
