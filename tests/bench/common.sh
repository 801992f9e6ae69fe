# Sourced by the shell scenarios of tests/bench/: temp dir, processes started
# and stopped by PID, CPU pinning, the fake panel, panelmuxd, nginx and wrk.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) BIN=$BUILD ;; *) BIN=$ROOT/$BUILD ;; esac
export BENCH_DIR BUILD

BENCH_SECONDS=${BENCH_SECONDS:-10}   # each measurement
BENCH_WARMUP=${BENCH_WARMUP:-2}      # each warm-up before it
BENCH_CONNS=${BENCH_CONNS:-64}       # wrk connections (keep-alive)

# The server under test on one core, wrk on the other.
SERVER_CPU=${SERVER_CPU:-0}
if [ "$(nproc)" -gt 1 ]; then CLIENT_CPU=${CLIENT_CPU:-1}; else CLIENT_CPU=${CLIENT_CPU:-0}; fi
export SERVER_CPU CLIENT_CPU

BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pmx-bench.XXXXXX")
BENCH_PIDS=()

benchlib() { python3 "$BENCH_DIR/benchlib.py" "$@"; }
result() { benchlib result "$1" "$2"; }
log() { printf '%s\n' "$*" >&2; }

cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${BENCH_PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ -n "${BENCH_KEEP:-}" ]; then log "kept $BENCH_TMP"; else rm -rf "$BENCH_TMP"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# stop_pid PID: SIGTERM one process we started and wait for it.
stop_pid() {
	kill -TERM "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
}

wait_port() {
	local port=$1 pid=$2 i
	for i in $(seq 1 500); do
		kill -0 "$pid" 2>/dev/null || { log "process $pid exited before listening on $port"; return 1; }
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
		sleep 0.02
	done
	log "port $port not listening"
	return 1
}

# start_fakepanel N_SERVICES: FP_PID, FP_PORT.  It shares wrk's core, so the
# server under test keeps its own.
start_fakepanel() {
	local out=$BENCH_TMP/fakepanel.out line
	taskset -c "$CLIENT_CPU" "$BIN/fakepanel" --listen 127.0.0.1:0 \
		--key bench-upstream-key --services "$1" --progress manual \
		>"$out" 2>"$BENCH_TMP/fakepanel.log" &
	FP_PID=$!
	BENCH_PIDS+=("$FP_PID")
	for _ in $(seq 1 250); do
		line=$(head -n1 "$out" 2>/dev/null || true)
		case $line in *"listening on"*) break ;; esac
		sleep 0.02
	done
	FP_PORT=${line##*:}
	[ -n "$FP_PORT" ] || { log "fakepanel did not start"; return 1; }
}

# setup_panelmux [POLL] [UP_CONNS]: config and store in $BENCH_TMP
# (PMX_CONF, PMX_DB, PMX_PORT); the daemon is started by start_panelmux.
setup_panelmux() {
	PMX_PORT=$(benchlib free-port)
	PMX_DB=$BENCH_TMP/panelmux.db
	PMX_CONF=$BENCH_TMP/panelmux.yaml
	benchlib config "$PMX_CONF" "$PMX_PORT" "$FP_PORT" "$PMX_DB" "${1:-10m}" "${2:-16}"
}

pmx() { "$BIN/panelmux" -c "$PMX_CONF" "$@"; }

start_panelmux() {
	taskset -c "$SERVER_CPU" "$BIN/panelmuxd" -c "$PMX_CONF" >>"$BENCH_TMP/panelmuxd.log" 2>&1 &
	PMX_PID=$!
	BENCH_PIDS+=("$PMX_PID")
	wait_port "$PMX_PORT" "$PMX_PID"
}

# start_nginx BODY_FILE|- STATIC_FILE|-: one worker on the server's core,
# `return 200 '<body>'` on /api/v2 and static files under /static/.
start_nginx() {
	local dir=$BENCH_TMP/nginx conf
	mkdir -p "$dir"
	chmod 711 "$BENCH_TMP" # nginx's workers drop root and must reach $dir
	NGINX_PORT=$(benchlib free-port)
	conf=$(benchlib nginx-conf "$dir" "$NGINX_PORT" "$1" "$2")
	taskset -c "$SERVER_CPU" nginx -p "$dir" -c "$conf" -e "$dir/nginx-error.log" &
	NGINX_PID=$!
	BENCH_PIDS+=("$NGINX_PID")
	wait_port "$NGINX_PORT" "$NGINX_PID"
}

# cpu_ticks PID: user + system clock ticks of PID and its children (nginx's
# worker), read from /proc.
cpu_ticks() {
	local pid total=0 f
	for pid in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		f=$(sed 's/.*) //' /proc/"$pid"/stat 2>/dev/null) || continue
		set -- $f
		total=$((total + ${12} + ${13}))
	done
	echo "$total"
}

# wrk_run NAME CONNS URL SCRIPT [SERVER_PID]: a warm-up, then BENCH_SECONDS
# measured.  Sets WRK_RPS, WRK_MBPS, WRK_P50_MS, WRK_P99_MS, WRK_ERRORS,
# WRK_REQUESTS, and with SERVER_PID WRK_CPU_US: the server's CPU time per
# request (user + system), which a busy machine disturbs less than req/s.
# wrk's own report is kept in $BENCH_TMP/wrk-NAME.txt and echoed.
wrk_run() {
	local name=$1 conns=$2 url=$3 script=$4 pid=${5:-} out=$BENCH_TMP/wrk-$1.txt t0=0 t1=0
	BENCH_TAG=$name-warm taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${BENCH_WARMUP}s" \
		--timeout 10s -s "$script" "$url" >/dev/null
	[ -z "$pid" ] || t0=$(cpu_ticks "$pid")
	BENCH_TAG=$name taskset -c "$CLIENT_CPU" wrk -t1 -c"$conns" -d"${BENCH_SECONDS}s" \
		--timeout 10s --latency -s "$script" "$url" >"$out"
	[ -z "$pid" ] || t1=$(cpu_ticks "$pid")
	grep -v '^WRK ' "$out" | sed "s/^/  [$name] /" >&2
	eval "$(sed -n 's/^WRK //p' "$out")"
	WRK_CPU_US=$(awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$WRK_REQUESTS" \
		'BEGIN { printf "%.1f", t / hz * 1e6 / (n > 0 ? n : 1) }')
	log "  [$name] ${WRK_RPS} req/s, ${WRK_MBPS} MB/s, p50 ${WRK_P50_MS} ms, p99 ${WRK_P99_MS} ms," \
		"errors ${WRK_ERRORS}${pid:+, server CPU $WRK_CPU_US us/request}"
}

# wrk_results KEY [FIGURE]: the last wrk_run's figure (req/s unless
# FIGURE is given), server CPU per request and errors as KEY, KEY_cpu_us,
# KEY_errors.
wrk_results() {
	result "$1" "${2:-$WRK_RPS}"
	result "$1_cpu_us" "$WRK_CPU_US"
	result "$1_errors" "$WRK_ERRORS"
}

# require_reply FILE PATTERN: the reply a benchmark repeats must be a real one.
require_reply() {
	grep -q -- "$2" "$1" || { log "unexpected reply in $1: $(head -c 300 "$1")"; return 1; }
}
