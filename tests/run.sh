#!/usr/bin/env bash
# tests/run.sh BUILD_DIR... - run every suite against each build directory
# (build = normal, build-san = ASan+UBSan) and end with the plain line
# "N passed, N failed".  TAP lines are printed as they come.
#   TESTS_FILTER=regex   run only unit binaries / integration tests matching it
#   PMX_NO_PG=1          no PostgreSQL cluster, no PostgreSQL suite
# When PostgreSQL's server binaries are installed, a throw-away cluster is
# started first (tests/pg.sh, a temporary directory, a free loopback port)
# and PMX_PG (its conninfo), PMX_PG_DIR, PMX_PG_PORT and PMX_PG_OPTS are
# exported: the unit tests use PMX_PG, and after the per-build suites the
# integration suite runs once more with PMX_STORE=postgres, labelled
# BUILD/integration-pg.  The cluster is stopped and removed on exit.
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
skipped=0
failed=()
filter=${TESTS_FILTER:-}

pg_base=
pg_ok=
pg_cleanup() {
	if [ -n "$pg_base" ]; then
		bash tests/pg.sh stop "$pg_base/data" fast >/dev/null 2>&1 || true
		rm -rf "$pg_base"
	fi
}
if [ -z "${PMX_NO_PG:-}" ] && compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null; then
	pg_base=$(mktemp -d /tmp/pmx-pg.XXXXXX)
	chmod 711 "$pg_base" # the cluster's directory inside is the postgres user's
	trap pg_cleanup EXIT
	trap 'exit 130' INT TERM
	# fsync off only speeds the throw-away cluster up: a killed server
	# process still loses no committed transaction.
	export PMX_PG_OPTS="-c fsync=off -c synchronous_commit=on"
	for try in 1 2 3; do
		PMX_PG_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
		# shellcheck disable=SC2086
		if out=$(bash tests/pg.sh start "$pg_base/data" "$PMX_PG_PORT" $PMX_PG_OPTS 2>"$pg_base/start.err"); then
			pg_ok=1
			break
		fi
	done
	if [ -n "$pg_ok" ]; then
		export PMX_PG=$out PMX_PG_DIR=$pg_base/data PMX_PG_PORT
		echo "# PostgreSQL test cluster: $PMX_PG"
	else
		echo "postgres: the test cluster did not start"
		tail -n 20 "$pg_base/start.err" 2>/dev/null
		tail -n 20 "$pg_base/data/server.log" 2>/dev/null
		fail=$((fail + 1)); failed+=("postgres: the test cluster did not start")
	fi
elif [ -z "${PMX_NO_PG:-}" ]; then
	echo "# PostgreSQL server not installed: the PostgreSQL suites do not run"
fi

tally() { # $1 = label; reads TAP on stdin; shows the diagnostics of failures
	local label=$1 line diag=
	while IFS= read -r line; do
		case $line in
		# a skip is neither a pass nor a failure: counted apart
		"ok "*"# SKIP"* | "not ok "*"# SKIP"*) skipped=$((skipped + 1)); diag=; echo "$label: $line" ;;
		"ok "*) pass=$((pass + 1)); diag=; echo "$label: $line" ;;
		"not ok "*) fail=$((fail + 1)); diag=1; failed+=("$label: ${line#not ok }"); echo "$label: $line" ;;
		"#"*) if [ -n "$diag" ]; then echo "$label: $line"; fi ;;
		"1.."*) ;;
		*) echo "$label: $line" ;;
		esac
	done
}

# The browser suite (test_console) runs once, apart.
browser='^test_console\.'

# lib/'s layout rules (README, "Layout"): once, whatever the builds.
if [ -z "$filter" ] || [[ check_layout =~ $filter ]]; then
	tally "layout" < <(python3 tests/check_layout.py lib 2>&1)
fi

for b in "$@"; do
	if [ ! -x "$b/panelmuxd" ]; then
		echo "$b: not built"; fail=$((fail + 1)); failed+=("$b: not built"); continue
	fi
	for t in "$b"/tests/test_*; do
		[ -x "$t" ] || continue
		name=$(basename "$t")
		if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then continue; fi
		if [ -n "${PMX_VALGRIND:-}" ]; then
			out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 1200 valgrind -q --error-exitcode=99 \
				--leak-check=full --errors-for-leak-kinds=definite "$t" 2>&1)
		else
			out=$(CMOCKA_MESSAGE_OUTPUT=TAP timeout 600 "$t" 2>&1)
		fi
		rc=$?
		tally "$b/$name" < <(printf '%s\n' "$out")
		if [ $rc -ne 0 ] && ! grep -q '^not ok ' <<<"$out"; then
			# a crash or sanitizer abort outside any test case
			fail=$((fail + 1)); failed+=("$b/$name: exited $rc")
			printf '%s\n' "$out" | tail -n 30
		fi
	done
	# libFuzzer corpora (tests/fuzz): one TAP line per target, each input
	# replayed through its LLVMFuzzerTestOneInput in this build.
	. tests/fuzz/corpora.sh
	for src in tests/fuzz/fuzz_*.c; do
		name=$(basename "$src" .c)
		name=replay_${name#fuzz_}
		if [ -n "$filter" ] && ! [[ $name =~ $filter ]]; then continue; fi
		if [ ! -x "$b/tests/$name" ]; then
			echo "$b/$name: not built"; fail=$((fail + 1)); failed+=("$b/$name: not built"); continue
		fi
		mapfile -t dirs < <(fuzz_corpora "${name#replay_}")
		out=$(timeout 1200 "$b/tests/$name" "${dirs[@]}" 2>&1)
		rc=$?
		tally "$b/$name" < <(printf '%s\n' "$out")
		if [ $rc -ne 0 ] && ! grep -q '^not ok ' <<<"$out"; then
			fail=$((fail + 1)); failed+=("$b/$name: exited $rc")
			printf '%s\n' "$out" | tail -n 30
		fi
	done
	tally "$b/integration" < <(PMX_STORE=sqlite python3 tests/integration/run.py --build "$b" --exclude "$browser" ${filter:+--filter "$filter"} 2>&1)
done

# The console in headless Chromium: once, on the last build given (the
# sanitizer one in make test) and SQLite; what it drives (the admin API on
# both stores) is tested by the runs above and below.
if [ $# -gt 0 ] && [ -x "${!#}/panelmuxd" ]; then
	tally "${!#}/browser" < <(PMX_STORE=sqlite python3 tests/integration/run.py --build "${!#}" --only "$browser" ${filter:+--filter "$filter"} 2>&1)
fi

# The integration suite once more on PostgreSQL, for every build (the
# sanitizer build is where the fibers' stack switches are checked).
if [ -n "$pg_ok" ] && [ $# -gt 0 ]; then
	for b in "$@"; do
		[ -x "$b/panelmuxd" ] || continue # reported above
		tally "$b/integration-pg" < <(PMX_STORE=postgres python3 tests/integration/run.py --build "$b" --exclude "$browser" ${filter:+--filter "$filter"} 2>&1)
	done
fi

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
fi
# Skips are neither passes nor failures: said on their own line, so the
# last line stays the plain "N passed, N failed" CI reads.
echo "$skipped skipped (counted apart)"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
