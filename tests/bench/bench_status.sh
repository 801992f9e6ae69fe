#!/usr/bin/env bash
# Row "status of 100 IDs req/s": one customer with 100 active orders that
# were polled just now (fresh copies, poll_interval 10m), wrk POSTing
# action=status&orders=<the 100 IDs> on 64 connections; the anchor is nginx
# returning the same bytes with `return 200`.  The fake panel's status
# counter must not move: every reply comes from the store.
# Results: status.pmx, status.anchor, status.upstream_calls.
source "$(dirname "$0")/common.sh"

start_fakepanel 20
setup_panelmux 10m
pmx customer add bench >"$BENCH_TMP/key"
KEY=$(cat "$BENCH_TMP/key")
IDS=$(benchlib fresh-orders "$PMX_DB" bench 100 1)
start_panelmux

export BENCH_BODY="key=$KEY&action=status&orders=$IDS" BENCH_METHOD=POST
curl -s "http://127.0.0.1:$PMX_PORT/api/v2" -d "$BENCH_BODY" >"$BENCH_TMP/reply.json"
require_reply "$BENCH_TMP/reply.json" '"status":"Pending"'
[ "$(grep -o '"status":"Pending"' "$BENCH_TMP/reply.json" | wc -l)" = 100 ] ||
	{ log "not 100 orders in the reply"; exit 1; }
log "status reply: $(wc -c <"$BENCH_TMP/reply.json") bytes: $(head -c 160 "$BENCH_TMP/reply.json")..."

before=$(benchlib fp-stat "$FP_PORT" actions.status)
wrk_run status-panelmux "$BENCH_CONNS" "http://127.0.0.1:$PMX_PORT/api/v2" "$BENCH_DIR/request.lua" "$PMX_PID"
after=$(benchlib fp-stat "$FP_PORT" actions.status)
wrk_results status.pmx
result status.upstream_calls "$((after - before))"
stop_pid "$PMX_PID"

start_nginx "$BENCH_TMP/reply.json" -
curl -s "http://127.0.0.1:$NGINX_PORT/api/v2" -d "$BENCH_BODY" | cmp - "$BENCH_TMP/reply.json"
wrk_run status-nginx "$BENCH_CONNS" "http://127.0.0.1:$NGINX_PORT/api/v2" "$BENCH_DIR/request.lua" "$NGINX_PID"
wrk_results status.anchor
