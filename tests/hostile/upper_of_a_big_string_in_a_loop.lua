-- expect: failed limit_exceeded
-- Each call is one VM instruction scanning 8 MiB in C: the bytes are charged.
return function(run)
  local s = string.rep("x", 8 << 20)
  pcall(function()
    for _ = 1, 1e9 do local _ = s:upper():len() end
  end)
  return "survived"
end
