-- add orders with a unique link each: BENCH_KEY, service BENCH_SERVICE (1),
-- quantity 100, link https://bench.example/<BENCH_TAG>/<n>.  With
-- BENCH_STOP_AFTER, each wrk thread stops after that many replies.
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

local key = os.getenv("BENCH_KEY")
local service = os.getenv("BENCH_SERVICE") or "1"
local tag = os.getenv("BENCH_TAG") or "t"
local headers = {["Content-Type"] = "application/x-www-form-urlencoded"}
-- BENCH_CLOSE: a fresh connection per add, as panelmux calls an upstream
if os.getenv("BENCH_CLOSE") then headers["Connection"] = "close" end
local n = 0

function request()
   n = n + 1
   local body = "key=" .. key .. "&action=add&service=" .. service ..
      "&link=https%3A%2F%2Fbench.example%2F" .. tag .. "%2F" .. n .. "&quantity=100"
   return wrk.format("POST", nil, headers, body)
end

local stop_after = tonumber(os.getenv("BENCH_STOP_AFTER") or "")
if stop_after then
   local replies = 0
   function response(status, headers, body)
      replies = replies + 1
      if replies >= stop_after then wrk.thread:stop() end
   end
end
