#!/usr/bin/env bash
# Row "balance req/s": wrk, 64 keep-alive connections, form POST
# key=...&action=balance, against panelmuxd and against nginx returning the
# same JSON bytes with `return 200`.  Results: balance.pmx, balance.anchor.
source "$(dirname "$0")/common.sh"

start_fakepanel 20
setup_panelmux
KEY=$(pmx customer add bench)
pmx customer fund bench 1000 >/dev/null
start_panelmux

export BENCH_BODY="key=$KEY&action=balance" BENCH_METHOD=POST
curl -s "http://127.0.0.1:$PMX_PORT/api/v2" -d "$BENCH_BODY" >"$BENCH_TMP/reply.json"
require_reply "$BENCH_TMP/reply.json" '"balance":"1000.00000"'
log "balance reply: $(cat "$BENCH_TMP/reply.json") ($(wc -c <"$BENCH_TMP/reply.json") bytes)"

wrk_run balance-panelmux "$BENCH_CONNS" "http://127.0.0.1:$PMX_PORT/api/v2" "$BENCH_DIR/request.lua" "$PMX_PID"
wrk_results balance.pmx
stop_pid "$PMX_PID"

start_nginx "$BENCH_TMP/reply.json" -
curl -s "http://127.0.0.1:$NGINX_PORT/api/v2" -d "$BENCH_BODY" | cmp - "$BENCH_TMP/reply.json"
wrk_run balance-nginx "$BENCH_CONNS" "http://127.0.0.1:$NGINX_PORT/api/v2" "$BENCH_DIR/request.lua" "$NGINX_PID"
wrk_results balance.anchor
