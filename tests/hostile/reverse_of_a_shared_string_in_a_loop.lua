-- expect: failed limit_exceeded
-- tonumber and string.reverse scan their argument in C; the result of reverse is freed at once.
return function(run)
  local s = string.rep("7", 4 << 20)
  pcall(function()
    for _ = 1, 1e9 do local _ = tonumber(s) local _ = #s:reverse() end
  end)
  return "survived"
end
