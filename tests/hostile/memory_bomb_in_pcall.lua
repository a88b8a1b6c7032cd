-- expect: failed limit_exceeded
return function(run)
  pcall(function() local t = {} while true do t[#t + 1] = string.rep("x", 1e6) end end)
  return "survived"
end
