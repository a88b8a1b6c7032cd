-- expect: failed limit_exceeded
-- An empty string repeated 2^62 times allocates nothing and loops in C: its count is charged.
return function(run)
  pcall(function() return #string.rep("", 2 ^ 62) end)
  return "survived"
end
