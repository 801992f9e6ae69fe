#!/usr/bin/env bash
# tests/run.sh BUILD_DIR... - run every suite against each build directory
# (build = normal, build-san = ASan+UBSan) and end with the plain line
# "N passed, N failed".  TAP lines are printed as they come.
#   TESTS_FILTER=regex   run only unit binaries / integration tests matching it
set -u
cd "$(dirname "$0")/.."
pass=0
fail=0
failed=()
filter=${TESTS_FILTER:-}

tally() { # $1 = label; reads TAP on stdin
	local label=$1 line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass=$((pass + 1)); echo "$label: $line" ;;
		"not ok "*) fail=$((fail + 1)); failed+=("$label: ${line#not ok }"); echo "$label: $line" ;;
		"#"*|"1.."*) ;;
		*) echo "$label: $line" ;;
		esac
	done
}

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
	tally "$b/integration" < <(python3 tests/integration/run.py --build "$b" ${filter:+--filter "$filter"} 2>&1)
done

if [ ${#failed[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed[@]}"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
