-- expect: failed limit_exceeded
-- Deterministic pairs() sorts the keys in C before the first one: the sort is charged.
return function(run)
  local t = {}
  for i = 1, 100000 do t[i * 7] = true end
  pcall(function()
    for _ = 1, 1e9 do for _ in pairs(t) do break end end
  end)
  return "survived"
end
