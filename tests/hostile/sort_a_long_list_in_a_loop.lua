-- expect: failed limit_exceeded
-- table.sort compares in C without the hook: n log n comparisons are charged per call.
return function(run)
  local t = {}
  for i = 1, 200000 do t[i] = i end
  pcall(function()
    for _ = 1, 1e9 do table.sort(t) table.concat(t, ",", 1, 1) end
  end)
  return "survived"
end
