-- expect: failed limit_exceeded
-- table.insert(t, 1, v) moves every item in C: quadratic work in one instruction per call.
return function(run)
  local t = {}
  for i = 1, 100000 do t[i] = i end
  pcall(function()
    for i = 1, 1e9 do table.insert(t, 1, i) table.remove(t, 1) end
  end)
  return "survived"
end
