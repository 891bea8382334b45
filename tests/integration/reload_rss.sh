#!/bin/bash
# tests/integration/reload_rss.sh — reloads do not leak: 100 good SIGHUPs
# (each waited for), then 100 refused ones (a broken config, a zone broken
# on its last line), with the sample geo database, the example zone and a
# 12000-record zone; VmRSS after the 10th and after the 100th of each run
# must stay within a small bound.
. "$(dirname "$0")/lib-extra.sh"
require dig python3
# Under valgrind the RSS is valgrind's, and leaks are its own report.
if [ -n "$GEOVIPD_WRAPPER" ]; then
	echo "SKIP: RSS is not meaningful under GEOVIPD_WRAPPER"
	exit 77
fi
# ASan keeps freed memory in quarantine (256 MiB by default), so RSS grows
# with every freed snapshot; leaks there are LeakSanitizer's job
if grep -q __asan_init "$GEOVIPD" 2>/dev/null; then
	echo "SKIP: RSS is not meaningful in an AddressSanitizer build"
	exit 77
fi

# How: VmRSS is read after every reload; "after reload 10" is the highest
# reading of reloads 10–19 and "after reload 100" the highest of 91–100.
# One reading swings by about one snapshot (here ~1.8 MiB: whether the old
# snapshot's pages are still mapped when we look depends on where glibc
# put the new one), but the high state shows up in most readings, so the
# peak of ten is steady (±0.4 MiB here), and a leak raises it by 90 x the
# leak.
# Bound on the peak's growth: 2 MiB or 10% of the peak at reload 10,
# whichever is larger. Why: one snapshot of this set (12000-record zone,
# example zone, geo tree) costs ~2 MiB; leaking it on every reload would
# add ~180 MiB, leaking a twentieth of it (one table) ~9 MiB. Allocator
# noise once the arenas (main thread + 2 workers) have their working size
# after ten reloads stays well under (see above). Smaller leaks are
# valgrind's job (GEOVIPD_WRAPPER, see lib.sh).
BOUND_MIN_KB=2048
BOUND_PCT=10

BIG_ZONE="$TEST_TMP/big.test.zone"
EX_ZONE="$TEST_TMP/example.com.zone"

# make_big ERROR_LINE — 12000 records of every common type; with
# ERROR_LINE "last", the last record is a syntax error.
make_big() {
	awk -v broken="$1" 'BEGIN {
		print "$ORIGIN big.test."
		print "$TTL 300"
		print "@ IN SOA ns1 hostmaster 1 3600 600 86400 60"
		print "@ IN NS ns1"
		print "ns1 IN A 192.0.2.53"
		print "*.wild IN A 192.0.2.99"
		for (i = 0; i < 2400; i++) {
			printf "a%d IN A 10.%d.%d.1\n", i, int(i / 250), i % 250
			printf "a%d IN AAAA 2001:db8::%x\n", i, i
			printf "t%d IN TXT \"record %d of a zone big enough to matter\"\n", i, i
			printf "m%d IN MX 10 a%d\n", i, i
			printf "c%d IN CNAME a%d\n", i, i
		}
		if (broken == "last")
			print "zz IN A 192.0.2.300"
	}' > "$BIG_ZONE"
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status"
}

# hup_wait PATTERN COUNT — SIGHUP, then wait (≤ 5 s) for COUNT log lines
# matching PATTERN; fails and stops the script if they never come.
hup_wait() {
	kill -HUP "$SERVER_PID"
	if ! wait_log "$1" "$2" $((5 * WAIT_SCALE)); then
		fail "no '$1' line number $2 within 5 s"
		finish
	fi
}

# peak FIRST LAST — the highest of RSS[FIRST..LAST].
peak() {
	local i max=0
	for i in $(seq "$1" "$2"); do
		[ "${RSS[$i]}" -gt "$max" ] && max=${RSS[$i]}
	done
	echo "$max"
}

# check_flat NAME — RSS[] peak after reload 100 vs after reload 10.
check_flat() {
	set -- "$1" "$(peak 10 19)" "$(peak 91 100)"
	local bound=$(($2 * BOUND_PCT / 100))
	[ "$bound" -lt "$BOUND_MIN_KB" ] && bound=$BOUND_MIN_KB
	echo "# $1: VmRSS every 10th: $(for i in 10 20 30 40 50 60 70 80 90 100; do
		printf '%s ' "${RSS[$i]}"; done)kB"
	echo "# $1: VmRSS peak after #10 ${2} kB, after #100 ${3} kB" \
		"(growth $(($3 - $2)) kB, bound $bound kB)"
	if [ "$(($3 - $2))" -le "$bound" ]; then
		ok "$1: RSS flat ($(($3 - $2)) kB ≤ $bound kB)"
	else
		fail "$1: RSS grew by $(($3 - $2)) kB (> $bound kB) from #10 to #100"
	fi
}

pick_port
write_zone 2024010101
make_big ok
sed '/^;/d' "$top_srcdir/zones/example.com.zone" > "$EX_ZONE"
write_geo_config "$CONF" \
	"  - origin: example.com." \
	"    file: $EX_ZONE" \
	"    regional: [\"@\", www, api, \"*.edge\"]" \
	"  - origin: big.test." \
	"    file: $BIG_ZONE" \
	"    regional: [www]"
cp "$CONF" "$TEST_TMP/good.yaml"
sed 's/^default_region: .*/default_region: mars/' "$CONF" > "$TEST_TMP/bad.yaml"
start_server
rss_start=$(rss_kb)
check "big zone served" "10.3.249.1" "$(dig_short a999.big.test A)"
check "example zone served" "192.0.2.10" "$(dig_short www.example.com A)"

# --- 100 good reloads, each waited for
RSS=()
t0=$(date +%s)
for n in $(seq 1 100); do
	hup_wait "reloaded generation $((n + 1)):" 1
	RSS[$n]=$(rss_kb)
	# now and then: still answering, from the newest set
	[ $((n % 25)) = 0 ] && check "reload $n: big zone answers" \
		"a7.big.test." "$(dig_short c7.big.test CNAME)"
done
echo "# 100 reloads in $(($(date +%s) - t0)) s; VmRSS at start $rss_start kB"
check_flat "100 good reloads"

# --- 100 refused reloads: a config error (found before any zone is read)
# and a zone error on its last line (found after the whole zone is built)
t0=$(date +%s)
for n in $(seq 1 100); do
	if [ $((n % 2)) = 1 ]; then
		cp "$TEST_TMP/bad.yaml" "$CONF"
		make_big ok
	else
		cp "$TEST_TMP/good.yaml" "$CONF"
		make_big last
	fi
	hup_wait "reload failed, keeping generation 101\$" "$n"
	RSS[$n]=$(rss_kb)
done
echo "# 100 refused reloads in $(($(date +%s) - t0)) s"
check_flat "100 refused reloads"
check_grep "refused: zone error named" "error: $BIG_ZONE:12007: " "$(cat "$SERVER_LOG")"
check_grep "refused: config error named" "error: $CONF:[0-9]+: .*mars" "$(cat "$SERVER_LOG")"
check "after refused reloads: big zone answers" "10.3.249.1" "$(dig_short a999.big.test A)"
check "after refused reloads: no more reloads" 100 \
	"$(grep -c 'reloaded generation' "$SERVER_LOG")"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
