-- expect: failed limit_exceeded
return function(run)
  pcall(function()
    local guard <close> = setmetatable({}, { __close = function() while true do end end })
    error("x")
  end)
end
