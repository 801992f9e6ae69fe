-- Shared by the wrk scripts: after a run, print its figures as shell
-- assignments on lines starting with "WRK " (run.sh's common.sh reads them).
-- Latencies in ms, throughput in requests/s and MB/s (10^6 bytes).
function done(summary, latency, requests)
   local secs = summary.duration / 1e6
   local e = summary.errors
   local function out(k, v) io.write(string.format("WRK %s=%s\n", k, v)) end
   out("WRK_REQUESTS", summary.requests)
   out("WRK_RPS", string.format("%.1f", summary.requests / secs))
   out("WRK_MBPS", string.format("%.2f", summary.bytes / secs / 1e6))
   out("WRK_P50_MS", string.format("%.3f", latency:percentile(50) / 1000))
   out("WRK_P99_MS", string.format("%.3f", latency:percentile(99) / 1000))
   out("WRK_ERRORS", e.connect + e.read + e.write + e.timeout + e.status)
end
