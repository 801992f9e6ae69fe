#!/usr/bin/env bash
# Rows "add orders/s" and "add latency p50/p99".
# The fake panel (--progress manual) is first called directly by wrk (the
# anchors, fake panel on the server core: its own add req/s on kept-alive
# connections, and with a fresh connection per add, as panelmux calls it),
# then through panelmuxd (panelmuxd on the server core, the fake panel
# beside wrk).  Each add has a unique link; panelmuxd is durable (the order
# is charged and marked 'sending' on disk before the upstream call).
# Throughput: BENCH_CONNS (64) connections.  Latency: a separate run on
# BENCH_LAT_CONNS (8) connections, so it shows the cost of an add rather
# than the queue in front of a saturated server.
# Results: add.pmx, add.anchor, add.anchor_fresh (orders/s), add.pmx_p50/p99, add.anchor_p50/p99
# (ms), add.states (the store's orders by state afterwards).
source "$(dirname "$0")/common.sh"
LAT_CONNS=${BENCH_LAT_CONNS:-8}

start_fakepanel 20
taskset -p -c "$SERVER_CPU" "$FP_PID" >/dev/null
setup_panelmux 10m
KEY=$(pmx customer add bench)
pmx customer fund bench 1000000 >/dev/null

# The anchor: the fake panel's own add, called directly.
FP_URL="http://127.0.0.1:$FP_PORT/api/v2"
curl -s "$FP_URL" -d key=bench-upstream-key -d action=add -d service=1 \
	-d link=https://bench.example/probe -d quantity=100 >"$BENCH_TMP/reply.json"
require_reply "$BENCH_TMP/reply.json" '"order":'
export BENCH_KEY=bench-upstream-key
wrk_run add-direct "$BENCH_CONNS" "$FP_URL" "$BENCH_DIR/add.lua" "$FP_PID"
wrk_results add.anchor
# The target's anchor: the same with a fresh connection per add, the way
# panelmux must call an upstream (SPEC section 5).
BENCH_CLOSE=1 wrk_run add-direct-fresh "$BENCH_CONNS" "$FP_URL" "$BENCH_DIR/add.lua" "$FP_PID"
wrk_results add.anchor_fresh
wrk_run add-direct-latency "$LAT_CONNS" "$FP_URL" "$BENCH_DIR/add.lua"
result add.anchor_p50 "$WRK_P50_MS"
result add.anchor_p99 "$WRK_P99_MS"

# Through panelmuxd.
taskset -p -c "$CLIENT_CPU" "$FP_PID" >/dev/null
start_panelmux
PMX_URL="http://127.0.0.1:$PMX_PORT/api/v2"
curl -s "$PMX_URL" -d key="$KEY" -d action=add -d service=1 \
	-d link=https://bench.example/probe -d quantity=100 >"$BENCH_TMP/reply.json"
require_reply "$BENCH_TMP/reply.json" '"order":'
export BENCH_KEY=$KEY
wrk_run add-panelmux "$BENCH_CONNS" "$PMX_URL" "$BENCH_DIR/add.lua" "$PMX_PID"
wrk_results add.pmx
result add.pmx64_p50 "$WRK_P50_MS"
result add.pmx64_p99 "$WRK_P99_MS"
wrk_run add-panelmux-latency "$LAT_CONNS" "$PMX_URL" "$BENCH_DIR/add.lua"
result add.pmx_p50 "$WRK_P50_MS"
result add.pmx_p99 "$WRK_P99_MS"
stop_pid "$PMX_PID"
result add.states "$(benchlib count-orders "$PMX_DB" | tr ' ' ',')"
