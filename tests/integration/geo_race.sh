#!/bin/bash
# tests/integration/geo_race.sh — the geo database rewritten in place while
# SIGHUP reloads read it (issue 13 item 3: a mapped file truncated under the
# loader killed the daemon with SIGBUS): truncate + slow rewrite, `cp` over
# it, cut short and restored, 0–40 ms after each SIGHUP, under light UDP
# load. The daemon never dies, no query goes unanswered, every reload
# either succeeds or logs why the file was refused and keeps the old
# generation; once the file is whole again a reload succeeds.
. "$(dirname "$0")/lib-extra.sh"
require dig python3

FLOOD="$top_srcdir/tests/integration/flood.py"
ROUNDS=${GEO_RACE_ROUNDS:-36}
DB="$TEST_TMP/geo.mmdb"
BIG="$TEST_TMP/big.mmdb"

# A valid database of 16 MiB: the sample with unreferenced bytes at the end
# of its data section (before the metadata), so reading it takes long
# enough for a rewrite to land in the middle.
python3 - "$GEO_DB" "$BIG" <<'PY'
import sys
db = open(sys.argv[1], 'rb').read()
at = db.rindex(b'\xab\xcd\xefMaxMind.com')
open(sys.argv[2], 'wb').write(db[:at] + bytes(16 << 20) + db[at:])
PY
cp "$BIG" "$DB"
GEO_DB=$DB
setup
start_server
check "regional answer from the big database" "192.0.2.10" \
	"$(dig_short www.$ZONE A)"

# slow_rewrite — truncates $DB and writes $BIG back 1 MiB at a time
# (the same inode, as `curl -o` or a careless script would).
slow_rewrite() {
	python3 - "$BIG" "$DB" <<'PY'
import sys, time
data = open(sys.argv[1], 'rb').read()
with open(sys.argv[2], 'r+b') as f:
    f.truncate(0)
    for i in range(0, len(data), 1 << 20):
        f.write(data[i:i + (1 << 20)])
        f.flush()
        time.sleep(0.002)
PY
}

# cut_restore — cuts $DB to a random length, then puts it back.
cut_restore() {
	truncate -s $((RANDOM * 512)) "$DB"
	sleep 0.01
	cp "$BIG" "$DB"
}

# light load for the whole storm: every query must be answered
python3 "$FLOOD" --port "$PORT" --stream load=127.0.0.1:2000 \
	--duration $((ROUNDS / 4 + 4)) --wait 2 --name www.$ZONE --type A \
	> "$TEST_TMP/flood.out" 2>&1 &
FLOOD_PID=$!

alive=yes
for round in $(seq 1 "$ROUNDS"); do
	case $((round % 3)) in
	0) slow_rewrite & ;;
	1) cp "$BIG" "$DB" & ;;
	2) cut_restore & ;;
	esac
	writer=$!
	sleep "0.0$((RANDOM % 4))$((RANDOM % 10))"
	kill -HUP "$SERVER_PID"
	wait "$writer"
	sleep 0.05
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		alive=no
		break
	fi
done
check "daemon alive through $ROUNDS rewrites during reloads" yes "$alive"
wait "$FLOOD_PID"
load=$(cat "$TEST_TMP/flood.out")
check_grep "every query answered during the storm" \
	'^load sent=2000 full=2000 tc=0 none=0 ' "$load"

# Let the last reload finish, then read the log: each reload has one
# outcome line, and every error names the file and a plain reason.
sleep 1
outcomes=$(grep -Ec 'reloaded generation|reload failed, keeping generation' \
	"$SERVER_LOG")
if [ "$outcomes" -ge 1 ]; then
	ok "$outcomes reloads ran during the storm"
else
	fail "no reload outcome logged"
fi
unexplained=$(grep -i 'error' "$SERVER_LOG" | grep -Ev \
	"$DB: (cannot open the geo database: (the file changed while it was read|the file is empty)|not a usable MaxMind DB)|geoip: cannot use|reload failed, keeping generation" || true)
check "every reload error names the file and a reason" "" "$unexplained"
echo "# reasons logged:"
grep -o "$DB: .*" "$SERVER_LOG" | sed "s|^$DB: ||; s/ (.*//" | sort | uniq -c |
	sed 's/^/#   /'
failed=$(grep -c 'reload failed, keeping generation' "$SERVER_LOG")
reasons=$(grep -c "$DB: " "$SERVER_LOG")
if [ "$reasons" -ge "$failed" ]; then
	ok "each of $failed refused reloads logged its reason"
else
	fail "$failed refused reloads but only $reasons reasons logged"
fi

# whole again: the next reload succeeds and serves
cp "$BIG" "$DB"
before=$(grep -c 'reloaded generation' "$SERVER_LOG")
kill -HUP "$SERVER_PID"
if wait_log 'reloaded generation' $((before + 1)) $((5 * WAIT_SCALE)); then
	ok "reload succeeds once the file is whole"
else
	fail "no successful reload after the file was restored"
fi
check "regional answer after the storm" "192.0.2.10" "$(dig_short www.$ZONE A)"
stop_server
check "clean exit" 0 "$SERVER_STATUS"
finish
