#!/bin/bash
# tests/integration/dnssec_resign.sh — background re-signing: with a short
# validity and refresh, geovipd re-signs on its own (no SIGHUP), the RRSIG
# expiration advances, no query goes unanswered meanwhile, a runtime drain
# (overlay) survives; a re-signing that fails (a key file gone) keeps the
# signatures served, says so, and is tried again until it succeeds.
. "$(dirname "$0")/lib-dnssec.sh"
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"
SOCK="$TEST_TMP/ctl.sock"
ctl() { timeout 30 "$GEOVIPCTL" -s "$SOCK" "$@"; }

# expiration NAME TYPE — the expiration field of the RRSIG covering TYPE
expiration() {
	dig_full +dnssec "$1" "$2" |
		awk -v t="$2" '$4 == "RRSIG" && $5 == t { print $9; exit }'
}
# resigns — the re-signings started so far
resigns() { grep -c "dnssec: signatures due for refresh: reloading" "$SERVER_LOG"; }
# wait_for COUNT_FN N SECONDS — until COUNT_FN prints at least N
wait_for() {
	local i
	for i in $(seq 1 $((10 * $3 * WAIT_SCALE))); do
		[ "$($1)" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
reloaded() { grep -c "reloaded generation" "$SERVER_LOG"; }
failed() { grep -c "dnssec: re-signing failed" "$SERVER_LOG"; }

# --- the minimum time between two re-signings is enforced
make_keys ECDSAP256SHA256 -
check_refused "a re-signing every 5 s" "must be at least 10 s" \
	"{ keys: [$KEYS], validity: 20s, refresh: 15s }"

# --- re-signing every 10 s: validity 40 s, refresh 30 s
write_config "    dnssec: { keys: [$KEYS], validity: 40s, refresh: 30s }" \
	"control: $SOCK"
start_server
check_grep "start-up log: expiry and next re-signing" \
	"dnssec: the first signature expires in [0-9]+ s .*re-signing in (8|9|10) s" \
	"$(cat "$SERVER_LOG")"
out=$(ctl drain americas --to apac --for 10m --reason resign-test)
check_grep "drain americas to apac" "^override #1: drain americas to apac" "$out"
e1=$(expiration www.$ZONE A)
s1=$(expiration $ZONE SOA)
check_grep "RRSIG expiration read" "^[0-9]{14}$" "$e1"
delv_check www.$ZONE A "before re-signing" -b 127.0.0.1

# queries all along: not one may go unanswered or fail
python3 - "$top_srcdir/tests/integration" "$PORT" "www.$ZONE" 25 \
	> "$TEST_TMP/loop.out" <<'PYEOF' &
import sys, time
sys.path.insert(0, sys.argv[1])
from dnsclient import Response, build_query, exchange
port, name, secs = int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
sent = lost = 0
bad = set()
end = time.time() + secs
while time.time() < end:
    sent += 1
    data = exchange("127.0.0.1", port, build_query(name, "A", sent & 0xffff),
                    timeout=2.0)
    if data is None:
        lost += 1
    else:
        a = Response(data).addresses()
        if a != "203.0.113.10":
            bad.add(a)
    time.sleep(0.02)
print(sent, lost, " ".join(sorted(bad)) or "-")
PYEOF
LOOP=$!
# two re-signings (10 s apart) while the loop runs
if wait_for resigns 2 30 && wait_for reloaded 2 30; then
	ok "re-signed twice without SIGHUP"
else
	fail "no re-signing within 30 s:"
	tail -20 "$SERVER_LOG" | sed 's/^/    /'
fi
wait "$LOOP"
read -r sent lost bad < "$TEST_TMP/loop.out"
check "answers during re-signing: none lost (of $sent)" 0 "$lost"
check "answers during re-signing: all the drained region's" - "$bad"
check_grep "queries sent during re-signing" "^[0-9]{2,}$" "$sent"
e2=$(expiration www.$ZONE A)
s2=$(expiration $ZONE SOA)
[ "$e2" -gt "$e1" ] && [ "$s2" -gt "$s1" ] &&
	ok "RRSIG expiration advanced ($e1 -> $e2, SOA $s1 -> $s2)" ||
	fail "RRSIG expiration did not advance: A $e1 -> $e2, SOA $s1 -> $s2"
check_grep "the drain survives re-signing" "^1 active" "$(ctl overrides)"
check "regional answer after re-signing: still drained" 203.0.113.10 \
	"$(dig_short -b 127.0.0.1 www.$ZONE A)"
delv_check www.$ZONE A "after re-signing (drained to apac)" -b 127.0.0.1
delv_check nope.$ZONE A "NXDOMAIN after re-signing"
# start-up and every re-signing: one line with the new expiry, 40 s out
# (38–39 when the load itself took a second or two, as under ASan)
check "each re-signing logs the new expiry" "$(($(reloaded) + 1))" \
	"$(grep -cE 'dnssec: the first signature expires in (38|39|40) s' "$SERVER_LOG")"

# --- a re-signing that fails: the private key gone
mv "$KSK.private" "$KSK.private.away"
e_mv=$(expiration www.$ZONE A) # a re-signing may have come since e2
n=$(failed)
if wait_for failed $((n + 1)) 30; then
	ok "failed re-signing logged"
else
	fail "no failed re-signing logged:"
	tail -20 "$SERVER_LOG" | sed 's/^/    /'
fi
log=$(cat "$SERVER_LOG")
check_grep "failure names the key file" \
	"key file $KEYDIR/K[^ ]*\\.private: No such file" "$log"
check_grep "failure keeps the generation" "reload failed, keeping generation" "$log"
check_grep "failure says when it tries again" \
	"re-signing failed; generation [0-9]+ keeps serving, its first signature expires in [0-9]+ s; trying again in [0-9]+ s" "$log"
e3=$(expiration www.$ZONE A)
check "old signatures still served" "$e_mv" "$e3"
delv_check www.$ZONE A "old set after a failed re-signing" -b 127.0.0.1
# the key back: the next try succeeds
mv "$KSK.private.away" "$KSK.private"
n=$(reloaded)
if wait_for reloaded $((n + 1)) 20; then
	ok "re-signing succeeds once the key is back"
else
	fail "no successful re-signing after the key came back"
fi
e4=$(expiration www.$ZONE A)
[ "$e4" -gt "$e3" ] && ok "expiration advanced after recovery" ||
	fail "expiration did not advance after recovery: $e3 -> $e4"
delv_check www.$ZONE A "after recovery" -b 127.0.0.1
stop_server
check "clean exit" 0 "$SERVER_STATUS"
finish
