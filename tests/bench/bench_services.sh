#!/usr/bin/env bash
# Row "services with 10,000 services, MB/s": the fake panel lists 10,000
# services, `panelmux services sync` imports them (id_offset 0), and wrk
# POSTs action=services on 64 connections.  The anchor is nginx serving the
# very same bytes as a static file (sendfile; GET, as nginx answers POST to
# a static file with 405).  Results: services.pmx, services.anchor (MB/s).
source "$(dirname "$0")/common.sh"

start_fakepanel 10000
setup_panelmux
KEY=$(pmx customer add bench)
pmx services sync >/dev/null
start_panelmux

export BENCH_BODY="key=$KEY&action=services" BENCH_METHOD=POST
curl -s "http://127.0.0.1:$PMX_PORT/api/v2" -d "$BENCH_BODY" >"$BENCH_TMP/services.json"
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$BENCH_TMP/services.json")
[ "$n" = 10000 ] || { log "services list has $n entries, not 10000"; exit 1; }
log "services reply: $n services, $(wc -c <"$BENCH_TMP/services.json") bytes"

wrk_run services-panelmux "$BENCH_CONNS" "http://127.0.0.1:$PMX_PORT/api/v2" "$BENCH_DIR/request.lua" "$PMX_PID"
wrk_results services.pmx "$WRK_MBPS"
result services.pmx_rps "$WRK_RPS"
stop_pid "$PMX_PID"

start_nginx - "$BENCH_TMP/services.json"
URL="http://127.0.0.1:$NGINX_PORT/static/services.json"
curl -s "$URL" | cmp - "$BENCH_TMP/services.json"
BENCH_BODY="" BENCH_METHOD=GET wrk_run services-nginx "$BENCH_CONNS" "$URL" "$BENCH_DIR/request.lua" "$NGINX_PID"
wrk_results services.anchor "$WRK_MBPS"
result services.anchor_rps "$WRK_RPS"
