-- One fixed request, again and again: BENCH_METHOD (POST) with the form
-- body BENCH_BODY (for GET leave it empty).
dofile(os.getenv("BENCH_DIR") .. "/report.lua")

wrk.method = os.getenv("BENCH_METHOD") or "POST"
local body = os.getenv("BENCH_BODY") or ""
if body ~= "" then
   wrk.body = body
   wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
