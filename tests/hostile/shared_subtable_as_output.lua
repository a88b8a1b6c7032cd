-- expect: failed limit_exceeded
-- 22 levels of {t, t}: 44 tables in the heap, four million leaves as JSON.
return function(run)
  local t = { "leaf" }
  for _ = 1, 22 do t = { t, t } end
  return t
end
