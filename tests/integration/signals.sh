#!/bin/bash
# tests/integration/signals.sh — signals at awkward moments: SIGHUP,
# SIGUSR1 and SIGUSR2 during start-up do not kill the daemon (the SIGHUP
# becomes a reload once it serves); SIGUSR1 logs the counters; SIGUSR2 is
# ignored; SIGTERM in the middle of a long reload stops it at once (exit 0).
. "$(dirname "$0")/lib.sh"
require dig python3

# add_records N — appends N A records to the test zone.
add_records() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++)
		printf "h%d IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256,
			int(i / 256) % 256, i % 256 }' >> "$ZONE_FILE"
}

# caught PID SIG... — true when PID catches (SigCgt) every signal number.
caught() {
	local pid=$1 mask s
	shift
	mask=$(awk '/^SigCgt:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	[ -n "$mask" ] || return 1
	for s in "$@"; do
		(( (0x$mask >> (s - 1)) & 1 )) || return 1
	done
}

setup
write_zone 2024010101
# start-up takes a moment: room to signal during it (not under a wrapper,
# which skips that part and would take minutes to load it)
[ -n "$GEOVIPD_WRAPPER" ] || add_records 50000

# --- SIGHUP, SIGUSR1, SIGUSR2 while the daemon loads at start-up. Under
# a wrapper (valgrind) SigCgt shows the wrapper's handlers, so there is no
# telling when geovipd's own are in place: that part is skipped there.
if [ -n "$GEOVIPD_WRAPPER" ]; then
	echo "# skipped under GEOVIPD_WRAPPER: signals during start-up"
	start_server
	kill -HUP "$SERVER_PID"
	kill -USR1 "$SERVER_PID"
else
	: > "$SERVER_LOG"
	$GEOVIPD_WRAPPER "$GEOVIPD" -c "$CONF" 2>>"$SERVER_LOG" &
	SERVER_PID=$!
	for i in $(seq 1 $((200 * WAIT_SCALE))); do
		caught "$SERVER_PID" 1 10 && break
		sleep 0.01
	done
	early=no
	grep -q "geovipd: serving on" "$SERVER_LOG" || early=yes
	kill -HUP "$SERVER_PID"; kill -USR1 "$SERVER_PID"; kill -USR2 "$SERVER_PID"
	check "signals sent before the daemon was ready" yes "$early"
	for i in $(seq 1 $((300 * WAIT_SCALE))); do
		grep -q "geovipd: serving on" "$SERVER_LOG" && break
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		ok "HUP, USR1, USR2 during start-up: still running"
	else
		wait "$SERVER_PID"
		fail "HUP, USR1, USR2 during start-up: died with status $?"
		SERVER_PID=
		finish
	fi
	check_grep "then serves" "geovipd: serving on" "$(cat "$SERVER_LOG")"
	check "answers" "192.0.2.10" "$(dig_short www.$ZONE A)"
fi
for i in $(seq 1 $((300 * WAIT_SCALE))); do
	grep -q "reloaded generation 2" "$SERVER_LOG" && break
	sleep 0.1
done
check_grep "the SIGHUP of start-up became a reload" "reloaded generation 2" \
	"$(cat "$SERVER_LOG")"
check_grep "the SIGUSR1 of start-up logged the counters" "counters: generation" \
	"$(cat "$SERVER_LOG")"

# --- SIGUSR1 logs the counters; SIGUSR2 is ignored
for i in 1 2 3; do dig_short www.$ZONE A > /dev/null; done
dig_short +tcp www.$ZONE A > /dev/null
before=$(grep -c "counters: generation" "$SERVER_LOG")
kill -USR1 "$SERVER_PID"
for i in $(seq 1 50); do
	[ "$(grep -c "counters: generation" "$SERVER_LOG")" -gt "$before" ] && break
	sleep 0.1
done
line=$(grep "counters: generation" "$SERVER_LOG" | tail -1)
udp=$(printf '%s\n' "$line" | sed -n 's/.*queries: udp \([0-9]*\), tcp \([0-9]*\).*/\1/p')
tcp=$(printf '%s\n' "$line" | sed -n 's/.*queries: udp \([0-9]*\), tcp \([0-9]*\).*/\2/p')
check_grep "SIGUSR1: generation 2 logged" "counters: generation 2 " "$line"
if [ -n "$udp" ] && [ "$udp" -ge 4 ] && [ -n "$tcp" ] && [ "$tcp" -ge 1 ]; then
	ok "SIGUSR1: queries counted (udp $udp, tcp $tcp)"
else
	fail "SIGUSR1: queries udp '$udp' tcp '$tcp' in: $line"
fi
check_grep "SIGUSR1: tcp connections logged" "counters: tcp connections: 0 open, [1-9][0-9]* accepted" \
	"$(cat "$SERVER_LOG")"
kill -USR2 "$SERVER_PID"
sleep 0.3
kill -0 "$SERVER_PID" 2>/dev/null && ok "SIGUSR2: still running" || fail "SIGUSR2 killed the daemon"
check "SIGUSR2: still answers" "192.0.2.10" "$(dig_short www.$ZONE A)"

# --- SIGTERM during a long reload: abandoned, prompt exit 0
add_records 400000    # seconds of loading, whatever the machine
kill -HUP "$SERVER_PID"
for i in $(seq 1 $((50 * WAIT_SCALE))); do
	[ "$(grep -c "SIGHUP: reloading" "$SERVER_LOG")" -ge 2 ] && break
	sleep 0.02
done
sleep 0.2
check "the reload is under way" 0 "$(grep -c "reloaded generation 3" "$SERVER_LOG")"
check "the old set still answers during the reload" "192.0.2.10" "$(dig_short www.$ZONE A)"
t0=$(date +%s%N)
stop_server TERM
elapsed=$((($(date +%s%N) - t0) / 1000000))
check "SIGTERM during a reload: exit status 0" 0 "$SERVER_STATUS"
if [ "$elapsed" -le $((2000 * WAIT_SCALE)) ]; then
	ok "SIGTERM during a reload: stopped in $elapsed ms"
else
	fail "SIGTERM during a reload: took $elapsed ms"
fi
check_grep "the reload was abandoned" "abandoning the reload under way" "$(cat "$SERVER_LOG")"
check_nogrep "and never published" "reloaded generation 3" "$(cat "$SERVER_LOG")"
finish
