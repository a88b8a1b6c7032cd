-- expect: failed limit_exceeded
-- The conversion of a syscall's argument is bounded the same way, and a pcall cannot catch it.
return function(run)
  local t = { "leaf" }
  for _ = 1, 22 do t = { t, t } end
  pcall(run.summary, run, "tree", t)
  return "survived"
end
