#!/bin/bash
# tests/bench/bench_core.sh — `make bench-core`: query_process in-process
# (tests/bench/bench_core.c), ns per query per query class, then the
# instructions callgrind counts inside query_process per answer. Not part
# of `make check`; needs valgrind for the second table.
set -eu
: "${top_srcdir:?}" "${top_builddir:?}"
BENCH="$top_builddir/tests/bench/bench_core"
FIXTURES="$top_srcdir/tests/fixtures"
CORPUS=4096     # queries per class (BENCH_CORPUS in bench_core.c)
CLASSES="static nxdomain nodata regional-ecs regional-ecs6 regional-src"

echo "== ns per query: median of 7 rounds, each 50 passes over $CORPUS queries, one thread"
"$BENCH" "$FIXTURES"

if ! command -v valgrind >/dev/null 2>&1; then
	echo "(valgrind not found: no instruction counts)"
	exit 0
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bench-core.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "== instructions per answer inside query_process (callgrind, $CORPUS queries per class)"
for class in $CLASSES; do
	valgrind -q --tool=callgrind --toggle-collect=query_process \
		--callgrind-out-file="$tmp/cg.$class" \
		"$BENCH" --class "$class" --rounds 0 "$FIXTURES"
	ir=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$tmp/cg.$class")
	[ -n "$ir" ] || ir=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$tmp/cg.$class")
	awk -v c="$class" -v ir="$ir" -v n="$CORPUS" \
		'BEGIN { printf "%-14s %8.0f instructions/answer\n", c, ir / n }'
done
