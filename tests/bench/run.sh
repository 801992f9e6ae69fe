#!/usr/bin/env bash
# make bench: run every scenario of tests/bench/ and print one table, each
# panelmux figure beside its anchor measured in the same run.
#
#   BUILD=build bash tests/bench/run.sh          (what `make bench` runs)
#   BENCH_ONLY="balance add" bash tests/bench/run.sh   (a subset)
#
# Installs nginx and wrk from Debian when missing.  Each scenario's output
# goes to $BUILD/bench/NAME.log.  Exits 1 if a scenario failed (a MISS is a
# finding, not a failure).
set -uo pipefail

BENCH_DIR=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
export BUILD=${BUILD:-build}
export PYTHONDONTWRITEBYTECODE=1
SCENARIOS="balance status services add poll fresh startup admin webhooks match scaleout console wan scale"
SCENARIO_TIMEOUT=${BENCH_SCENARIO_TIMEOUT:-240}
# scale writes 10,000,000 orders first (a few minutes on its own).
SCALE_TIMEOUT=${BENCH_SCALE_TIMEOUT:-900}
t_start=$(date +%s)
load_before=$(cut -d' ' -f1-3 /proc/loadavg)

install_missing() {
	local missing="" cmd pkg
	for cmd in nginx:nginx wrk:wrk taskset:util-linux curl:curl python3:python3; do
		pkg=${cmd#*:}
		command -v "${cmd%%:*}" >/dev/null 2>&1 || [ -x "/usr/sbin/${cmd%%:*}" ] ||
			missing="$missing $pkg"
	done
	[ -z "$missing" ] && return 0
	echo "bench: installing$missing" >&2
	local sudo=""
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -q >&2 &&
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q $missing >&2
}

install_missing || { echo "bench: cannot install nginx/wrk" >&2; exit 1; }
export PATH=$PATH:/usr/sbin
case $BUILD in /*) BIN=$BUILD ;; *) BIN=$ROOT/$BUILD ;; esac
for b in panelmuxd panelmux fakepanel oneatatime; do
	[ -x "$BIN/$b" ] || { echo "bench: $BIN/$b missing: make BUILD=$BUILD all" >&2; exit 1; }
done
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

LOGDIR=$BIN/bench
mkdir -p "$LOGDIR"
export BENCH_RESULTS=$LOGDIR/results.tsv
: >"$BENCH_RESULTS"

failed=""
for name in ${BENCH_ONLY:-$SCENARIOS}; do
	script=$(ls "$BENCH_DIR"/bench_"$name".* 2>/dev/null | head -n1)
	[ -n "$script" ] || { echo "bench: no scenario $name" >&2; failed="$failed $name"; continue; }
	case $script in
	*.py) cmd=(python3 "$script") ;;
	*) cmd=(bash "$script") ;;
	esac
	t0=$(date +%s)
	printf 'bench: %-9s ... ' "$name" >&2
	limit=$SCENARIO_TIMEOUT
	# wan: a 100,000-order poll cycle across the WAN is store-bound (README)
	[ "$name" = wan ] && limit=${BENCH_WAN_TIMEOUT:-480}
	[ "$name" = scale ] && limit=$SCALE_TIMEOUT
	if timeout -k 10 "$limit" "${cmd[@]}" >"$LOGDIR/$name.log" 2>&1; then
		echo "done ($(($(date +%s) - t0)) s)" >&2
	else
		echo "FAILED ($(($(date +%s) - t0)) s), see $LOGDIR/$name.log" >&2
		tail -n 5 "$LOGDIR/$name.log" | sed 's/^/    /' >&2
		failed="$failed $name"
	fi
done

echo
python3 "$BENCH_DIR/table.py" "$BENCH_RESULTS" \
	"machine: $(nproc) cores; load average $load_before before, $(cut -d' ' -f1-3 /proc/loadavg) after" \
	"server under test pinned to CPU ${SERVER_CPU:-0}, wrk to CPU ${CLIENT_CPU:-1} (taskset); ${BENCH_SECONDS:-10} s per measurement after ${BENCH_WARMUP:-2} s of warm-up" \
	"whole run: $(($(date +%s) - t_start)) s; logs in $LOGDIR"
[ -z "$failed" ] || { echo "bench: failed:$failed" >&2; exit 1; }
