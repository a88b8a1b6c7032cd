-- expect: failed limit_exceeded
-- next(t) from the start sorts a fresh snapshot of the keys in C: each one is charged.
return function(run)
  local t = {}
  for i = 1, 100000 do t["k" .. i] = i end
  pcall(function()
    for _ = 1, 1e9 do local _ = next(t) end
  end)
  return "survived"
end
