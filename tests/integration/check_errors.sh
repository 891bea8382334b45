#!/bin/sh
# tests/integration/check_errors.sh — `geovipd -c FILE --check` on every
# case in tests/fixtures/check/: NAME.yaml with NAME.expect must exit 1,
# NAME.yaml with NAME.warn must exit 0, NAME.yaml alone must exit 0.
#
# NAME.expect / NAME.warn hold one extended regular expression (grep -E) a
# line, each of which must match some line of the output; e.g.
#   bad-continent\.yaml:9: unknown continent
# The daemon runs in the fixture directory with -c NAME.yaml, so messages
# name the files as the cases do. Env: GEOVIPD (the daemon), top_srcdir.

: "${top_srcdir:=$(cd "$(dirname "$0")/../.." && pwd)}"
: "${GEOVIPD:=$top_srcdir/src/geovipd}"

cases="$top_srcdir/tests/fixtures/check"
case "$GEOVIPD" in
/*) ;;
*) GEOVIPD="$(pwd)/$GEOVIPD" ;;
esac

if [ ! -x "$GEOVIPD" ]; then
	echo "FAIL setup: no daemon at $GEOVIPD (set GEOVIPD)"
	exit 1
fi
if [ ! -d "$cases" ]; then
	echo "FAIL setup: no cases in $cases"
	exit 1
fi

out=$(mktemp "${TMPDIR:-/tmp}/check_errors.XXXXXX") || exit 1
trap 'rm -f "$out"' EXIT INT TERM

failed=0
total=0

# check_patterns FILE: every pattern line of FILE matches the output;
# prints the first one that does not.
check_patterns() {
	while IFS= read -r pattern || [ -n "$pattern" ]; do
		[ -z "$pattern" ] && continue
		if ! grep -E -q -e "$pattern" "$out"; then
			printf '%s' "$pattern"
			return 1
		fi
	done <"$1"
	return 0
}

# run_case NAME: runs one case, prints ok/FAIL, returns 1 on failure.
run_case() {
	name=$1
	if [ -f "$cases/$name.expect" ]; then
		want=1
		patterns="$cases/$name.expect"
	else
		want=0
		patterns="$cases/$name.warn"
	fi
	# a case must not hang; --check does no network I/O
	(cd "$cases" && exec timeout 30 "$GEOVIPD" -c "$name.yaml" --check) \
		>"$out" 2>&1
	status=$?
	if [ "$status" -ne "$want" ]; then
		echo "FAIL $name: exit status $status, want $want; output:"
		sed 's/^/    /' "$out"
		return 1
	fi
	if [ -f "$patterns" ]; then
		if ! missing=$(check_patterns "$patterns"); then
			echo "FAIL $name: no line matches '$missing'; output:"
			sed 's/^/    /' "$out"
			return 1
		fi
	fi
	# an error must name a file and a line
	if [ "$want" -eq 1 ] && ! grep -E -q '^[^ :]+:[0-9]+: ' "$out"; then
		echo "FAIL $name: no FILE:LINE: message; output:"
		sed 's/^/    /' "$out"
		return 1
	fi
	echo "ok $name"
	return 0
}

for yaml in "$cases"/*.yaml; do
	name=$(basename "$yaml" .yaml)
	total=$((total + 1))
	run_case "$name" || failed=$((failed + 1))
done

# a config file that does not exist: "FILE: cannot read: ..."
total=$((total + 1))
(cd "$cases" && exec timeout 30 "$GEOVIPD" -c no-such-file.yaml --check) \
	>"$out" 2>&1
status=$?
if [ "$status" -eq 1 ] &&
   grep -q 'no-such-file\.yaml: cannot read: No such file' "$out"; then
	echo "ok missing-config"
else
	echo "FAIL missing-config: exit status $status; output:"
	sed 's/^/    /' "$out"
	failed=$((failed + 1))
fi

echo "$((total - failed)) of $total cases passed"
[ "$failed" -eq 0 ]
