#!/bin/bash
# tests/integration/rrl.sh — response rate limiting against the real
# server: a flood from one /24 (five hosts, several ports) is held to the
# rate plus one burst, about half of its limited answers slip back with
# TC=1, while a quiet neighbour network, an exempt network and TCP from
# the flooding network are all answered; a reload without rrl lifts it.
. "$(dirname "${BASH_SOURCE[0]}")/lib-extra.sh"

require dig python3

FLOOD="$top_srcdir/tests/integration/flood.py"
RATE=50
DURATION=3
FLOOD_COUNT=1500                # 500/s from 127.0.9.0/24
QUIET_COUNT=$((20 * DURATION))  # 20/s from 127.0.10.1
EXEMPT_COUNT=900                # 300/s from 127.0.11.0/24, exempt
FLOOD_SRC=127.0.9.1,127.0.9.2,127.0.9.3,127.0.9.4,127.0.9.5

setup "rrl:" \
	"  responses_per_second: $RATE" \
	"  slip: 2" \
	"  exempt: [\"127.0.11.0/24\", \"192.0.2.0/24\"]"
cp "$CONF" "$TEST_TMP/rrl-on.yaml"
write_config
cp "$CONF" "$TEST_TMP/rrl-off.yaml"
start_server "$TEST_TMP/rrl-on.yaml"

# flood_run OUT — the three streams at once, bounded by timeout.
flood_run() {
	timeout 60 python3 "$FLOOD" --port "$PORT" --duration "$DURATION" \
		--wait 1.5 --name "token.$ZONE" --type TXT \
		--stream "flood=$FLOOD_SRC:$FLOOD_COUNT" \
		--stream "quiet=127.0.10.1:$QUIET_COUNT" \
		--stream "exempt=127.0.11.1,127.0.11.2:$EXEMPT_COUNT" > "$1" 2>&1
}

# field STREAM KEY FILE — one number of flood.py's report.
field() {
	sed -n "s/^$1 .*\b$2=\([0-9.]*\).*/\1/p" "$3"
}

# --- (a) RRL on: the flood is limited, everyone else is answered
flood_run "$TEST_TMP/on.txt" &
flood_pid=$!
sleep 1
# TCP from inside the flooding network, mid-flood: never limited
tcp=$(dig_short -b 127.0.9.1 +tcp "token.$ZONE" TXT | tr -d '"')
wait "$flood_pid"
cat "$TEST_TMP/on.txt"
check "TCP query from the flooding network answered" "$TOKEN" "$tcp"

sent=$(field flood sent "$TEST_TMP/on.txt")
full=$(field flood full "$TEST_TMP/on.txt")
tc=$(field flood tc "$TEST_TMP/on.txt")
elapsed=$(field flood elapsed "$TEST_TMP/on.txt")
if [ -z "$sent" ] || [ -z "$full" ] || [ -z "$tc" ] || [ -z "$elapsed" ]; then
	fail "flood.py gave no report"
	finish
fi
check "flood: every query sent" "$FLOOD_COUNT" "$sent"
# at most rate x elapsed + burst, with 10% + 5 of slack for the clock
max=$(awk -v r=$RATE -v e="$elapsed" 'BEGIN { printf "%d", (r * e + r) * 1.1 + 5 }')
min=$(awk -v r=$RATE -v e="$elapsed" 'BEGIN { printf "%d", r * e * 0.8 }')
if [ "$full" -le "$max" ] && [ "$full" -ge "$min" ]; then
	ok "flood: $full full answers in ${elapsed} s (allowed $min..$max)"
else
	fail "flood: $full full answers in ${elapsed} s, allowed $min..$max"
fi
limited=$((sent - full))
lo=$(awk -v l=$limited 'BEGIN { printf "%d", l * 0.35 }')
hi=$(awk -v l=$limited 'BEGIN { printf "%d", l * 0.65 + 1 }')
if [ "$tc" -ge "$lo" ] && [ "$tc" -le "$hi" ]; then
	ok "flood: $tc of $limited limited answers slipped as TC=1 ($lo..$hi)"
else
	fail "flood: $tc of $limited limited answers slipped, want $lo..$hi"
fi
check "quiet network at 20/s: every answer full" \
	"$QUIET_COUNT 0 0" "$(field quiet full "$TEST_TMP/on.txt") \
$(field quiet tc "$TEST_TMP/on.txt") $(field quiet none "$TEST_TMP/on.txt")"
check "exempt network at 300/s: every answer full" \
	"$EXEMPT_COUNT 0 0" "$(field exempt full "$TEST_TMP/on.txt") \
$(field exempt tc "$TEST_TMP/on.txt") $(field exempt none "$TEST_TMP/on.txt")"

# the period line comes from worker 0 within 10 s of the start
if wait_log "rrl: [0-9]+ responses limited in the last 10 s \([0-9]+ dropped, [0-9]+ slipped\)" 1 12; then
	ok "period line logged"
else
	fail "no 'rrl: N responses limited in the last 10 s' line"
fi

# --- (b) SIGHUP to a config without rrl: the flood is answered in full
cp "$TEST_TMP/rrl-off.yaml" "$TEST_TMP/rrl-on.yaml"
kill -HUP "$SERVER_PID"
wait_log "reloaded generation 2" 1 $((5 * WAIT_SCALE)) || fail "reload without rrl not logged"
flood_run "$TEST_TMP/off.txt"
cat "$TEST_TMP/off.txt"
check "rrl off after reload: the flood is answered in full" \
	"$FLOOD_COUNT 0 0" "$(field flood full "$TEST_TMP/off.txt") \
$(field flood tc "$TEST_TMP/off.txt") $(field flood none "$TEST_TMP/off.txt")"

# --- (c) the totals at shutdown
stop_server TERM
check "server stops cleanly" 0 "$SERVER_STATUS"
total=$(sed -n 's/.*rrl: \([0-9]*\) responses limited in total ([0-9]* dropped, [0-9]* slipped).*/\1/p' "$SERVER_LOG")
# the server's count against the client's (a lost packet may differ)
if [ -n "$total" ] && [ $((total - limited)) -le $((limited / 50 + 2)) ] &&
   [ $((limited - total)) -le $((limited / 50 + 2)) ]; then
	ok "totals logged at shutdown: $total limited (client saw $limited)"
else
	fail "totals at shutdown: '${total}' limited, client saw $limited"
fi

finish
