# tests/fuzz/corpora.sh - sourced by tests/run.sh and tests/fuzz/fuzz.sh.
# fuzz_corpora NAME: the corpus directories of target fuzz_NAME, one a line,
# relative to the repository root.  The first is its own; the others are
# corpora kept for other tests and used as seeds too.
fuzz_corpora() {
	echo "tests/fuzz/corpus/$1"
	case $1 in
	dialect) echo tests/corpus/upstream-replies ;;
	esac
}
