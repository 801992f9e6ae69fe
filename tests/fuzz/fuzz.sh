#!/usr/bin/env bash
# tests/fuzz/fuzz.sh BUILD SECONDS NAME... - run each libFuzzer binary
# BUILD/fuzz_NAME for SECONDS over a scratch copy of its corpora (so the
# committed corpus is not flooded), with tests/fuzz/NAME.dict.  Crashes,
# leaks and timeouts land in BUILD/work/NAME/findings/.  Exit status 1 if
# any target found something.  `make fuzz SECONDS=N` is the usual way in.
set -u
cd "$(dirname "$0")/../.."
. tests/fuzz/corpora.sh

if [ $# -lt 3 ]; then
	echo "usage: $0 BUILD SECONDS NAME..." >&2
	exit 2
fi
build=$1 secs=$2
shift 2
found=()

for t in "$@"; do
	bin=$build/fuzz_$t work=$build/work/$t
	if [ ! -x "$bin" ]; then
		echo "fuzz_$t: $bin not built"; found+=("$t: not built"); continue
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/findings"
	while IFS= read -r d; do
		cp -p "$d"/* "$work/corpus/"
	done < <(fuzz_corpora "$t")
	seeds=$(ls "$work/corpus" | wc -l)
	echo "fuzz_$t: ${secs}s over $seeds seeds (log: $work/fuzz.log)"
	# In-process, one target at a time (no -jobs/-workers, which would
	# fork into fuzz-N.log files): these machines have two cores.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-dict="tests/fuzz/$t.dict" -artifact_prefix="$work/findings/" \
		-print_final_stats=1 "$work/corpus" >"$work/fuzz.log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/fuzz.log")
	speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/fuzz.log")
	cov=$(grep -o 'cov: [0-9]*' "$work/fuzz.log" | tail -n 1)
	echo "fuzz_$t: exit $rc, ${runs:-?} runs (${speed:-?}/s), $cov," \
		"corpus $seeds -> $(ls "$work/corpus" | wc -l)"
	if [ $rc -ne 0 ] || [ -n "$(ls -A "$work/findings")" ]; then
		found+=("$t")
		grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' \
			"$work/fuzz.log" | head -n 5
		for f in "$work/findings"/*; do
			[ -e "$f" ] && echo "  finding: $f"
		done
	fi
done

if [ ${#found[@]} -gt 0 ]; then
	echo "fuzz: findings in: ${found[*]} (tests/fuzz/README.md: adding a crash to the corpus)"
	exit 1
fi
echo "fuzz: no findings"
