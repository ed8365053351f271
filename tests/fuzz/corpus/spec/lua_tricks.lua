local mt = { __index = function(t, k) return k end, __close = function() error("closed") end }
local t = setmetatable({}, mt)
local ok = pcall(function() for i = 1, 100 do if i == 50 then error({}) end end end)
local s = string.rep("ab", 100) .. tostring(ok) .. t.x
local co = coroutine.wrap(function() coroutine.yield(lstm { 2, name = "l" .. #s % 3 }) end)
return sequential { embedding { 8, 2, input_length = 2 }, co(), dense { 1, activation = "sigmoid" },
  fit = { callbacks = { model_checkpoint { "c.safetensors", monitor = "loss", save_best_only = true } } } }
