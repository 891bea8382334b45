#!/bin/bash
# tests/integration/control.sh — the control socket and geovipctl: status,
# reload (waits, reports errors), shed/drain/undo/overrides/lookup with real
# queries from 40 loopback /24s (each decision checked against python's
# SipHash), expiry, the audit lines, persistence through restart and reload
# via the state file, bad input refused with nothing changed, and overrides
# changing every 200 ms under UDP load with no query lost.
. "$(dirname "$0")/lib-extra.sh"
require dig python3
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"

SOCK="$TEST_TMP/ctl.sock"
AMERICAS=192.0.2.10
APAC=203.0.113.10
EMEA="198.51.100.10 198.51.100.11"
N=40
W=www.$ZONE

pick_port
write_zone 2024010101
write_geo_config "$CONF" "control: $SOCK"
start_server

ctl() { timeout 30 "$GEOVIPCTL" -s "$SOCK" "$@"; }

# Clients 127.0.I.1, I = 10..49: the sample database maps 127.0.1-9.0/24
# to countries, the rest of 127/8 to nothing (default region americas).
FIRST=10
LAST=$((FIRST + N - 1))
# answers FILE — one line per client: I ANSWER (the sorted A records);
# one python process, so 40 clients take well under a second
answers() {
	python3 - "$top_srcdir/tests/integration" "$PORT" $W $FIRST $LAST > "$1" <<'PYEOF'
import random, sys
sys.path.insert(0, sys.argv[1])
from dnsclient import Response, build_query, exchange
port, name = int(sys.argv[2]), sys.argv[3]
for i in range(int(sys.argv[4]), int(sys.argv[5]) + 1):
    data = None
    for _ in range(3):
        data = exchange("127.0.0.1", port, build_query(name, "A", random.randint(0, 65535)),
                        timeout=1.0, bind="127.0.%d.1" % i)
        if data is not None:
            break
    print(i, Response(data).addresses().replace(",", " ") if data else "timeout")
PYEOF
}
# count_answer FILE ANSWER
count_answer() { awk -v a="$2" '{ $1 = ""; sub(/^ /, "") } $0 == a' "$1" | wc -l; }
generation() { ctl status | sed -n 's/^generation //p'; }

# --- socket, status, -c
mode=$(stat -c '%a %u' "$SOCK")
check "control socket is mode 0600, owned by us" "600 $(id -u)" "$mode"
out=$(ctl status)
check_grep "status: generation" "^generation [0-9]" "$out"
check_grep "status: the config file with its mtime" "^file config $CONF mtime 20" "$out"
check_grep "status: the geo database" "^file geoip .*sample.mmdb mtime" "$out"
check_grep "status: the zone file" "^file $ZONE. $ZONE_FILE mtime" "$out"
check_grep "status: regions with their VIPs" "^region emea vips 198.51.100.10 198.51.100.11 2001:db8:20::1" "$out"
check_grep "status: regions without a shed" "^region lab vips 192.0.2.77 2001:db8:77::1$" "$out"
out=$(timeout 30 "$GEOVIPCTL" -c "$CONF" status)
check_grep "-c CONFIG finds the socket" "^generation [0-9]" "$out"
write_geo_config "$TEST_TMP/noctl.yaml"
out=$("$GEOVIPCTL" -c "$TEST_TMP/noctl.yaml" status 2>&1); rc=$?
check "-c without control: exit 2" 2 "$rc"
check_grep "-c without control: says so" "has no \`control:\` key" "$out"

answers "$TEST_TMP/base"
check "before: every client is americas" $N "$(count_answer "$TEST_TMP/base" $AMERICAS)"
GEN0=$(generation)

# --- bad input: a clear error, exit 1, nothing changed
bad() {
	local what=$1 want=$2 out rc
	shift 2
	out=$(ctl "$@" 2>&1); rc=$?
	check "$what: exit 1" 1 "$rc"
	check_grep "$what: error names the problem" "$want" "$out"
}
bad "unknown region" "unknown region 'nowhere' \\(regions: americas, emea, apac, lab\\)" \
	shed nowhere --to apac --percent 10 --for 1m --reason x
bad "unknown target" "unknown region 'mars'" shed americas --to mars --percent 10 --for 1m --reason x
bad "shed to itself" "cannot shed to itself" shed americas --to americas --percent 10 --for 1m --reason x
bad "percent 150" "--percent '150': write a number above 0 and at most 100" \
	shed americas --to apac --percent 150 --for 1m --reason x
bad "percent 0" "--percent '0'" shed americas --to apac --percent 0 --for 1m --reason x
bad "percent 1.234" "--percent '1.234'" shed americas --to apac --percent 1.234 --for 1m --reason x
bad "negative duration" "--for '-5s': write a whole number followed by s, m, h or d" \
	shed americas --to apac --percent 10 --for -5s --reason x
bad "garbage duration" "--for '10x'" shed americas --to apac --percent 10 --for 10x --reason x
bad "duration over 365d" "--for '400d'" shed americas --to apac --percent 10 --for 400d --reason x
bad "no reason" "usage: shed REGION" shed americas --to apac --percent 10 --for 1m
bad "unknown option" "unexpected '--bogus'" shed americas --to apac --percent 10 --for 1m --bogus 1 --reason x
bad "drain to an unknown region" "unknown region 'mars'" drain americas --to mars --for 1m --reason x
bad "undo garbage" "usage: undo ID" undo abc
bad "undo unknown" "no active override #99" undo 99
bad "unknown command" "unknown command 'frobnicate'" frobnicate
bad "lookup garbage" "lookup: 'not-an-address' is not ADDR" lookup not-an-address
# raw socket garbage: binary, a NUL, an over-long line, a silent client
raw() {
	python3 - "$SOCK" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
data = b""
while True:
    try:
        b = s.recv(65536)
    except ConnectionResetError:
        break
    if not b:
        break
    data += b
print(data.decode("utf-8", "replace").strip().splitlines()[-1] if data else "(nothing)")
PYEOF
}
check "socket garbage: control bytes" "ERROR the request holds a control character; send one line of text" \
	"$(raw 'b"\x01\x02\xff garbage\n"')"
check "socket garbage: a NUL byte" "ERROR the request holds a NUL byte" "$(raw 'b"status\x00x\n"')"
check "socket garbage: a 5000-byte line" "ERROR request longer than 1023 bytes" "$(raw 'b"shed " + b"a" * 5000 + b"\n"')"
check "socket garbage: an empty line" "ERROR empty request; commands: status, reload, shed, drain, health, undo, overrides, lookup" "$(raw 'b"\n"')"
check "after bad input: generation unchanged" "$GEN0" "$(generation)"
check "after bad input: no override" "0 active" "$(ctl overrides)"
check_nogrep "after bad input: no audit line" "audit:" "$(cat "$SERVER_LOG")"

# --- shed 50% americas → apac: each client moves exactly as python's
# SipHash predicts, and nothing else changes
out=$(ctl shed americas --to apac --percent 50 --for 1h --reason "PoP maintenance ticket 42")
check_grep "shed: answered with the id" "^override #1: shed americas to apac 50.00% until 20" "$out"
answers "$TEST_TMP/shed"
# python's decision per client (one process: each start is slow here)
python3 - "$top_srcdir/tests/integration" $SHED_KEY $FIRST $LAST > "$TEST_TMP/pred" <<'PYEOF'
import ipaddress, sys
sys.path.insert(0, sys.argv[1])
from dnsclient import is_shed
key = bytes.fromhex(sys.argv[2])
for i in range(int(sys.argv[3]), int(sys.argv[4]) + 1):
    print(i, "shed" if is_shed(key, ipaddress.ip_address("127.0.%d.1" % i), 32, 5000) else "stay")
PYEOF
mismatch=0
for i in $(seq $FIRST $LAST); do
	pred=$(sed -n "s/^$i //p" "$TEST_TMP/pred")
	want=$AMERICAS; [ "$pred" = shed ] && want=$APAC
	got=$(sed -n "s/^$i //p" "$TEST_TMP/shed")
	[ "$got" = "$want" ] || { mismatch=$((mismatch + 1)); echo "# 127.0.$i.1: got '$got', python says $pred"; }
done
check "python predictions for every client" $N "$(grep -c . "$TEST_TMP/pred")"
check "shed: every client's answer is python's SipHash decision" 0 "$mismatch"
moved=$(count_answer "$TEST_TMP/shed" $APAC)
if [ "$moved" -ge 8 ] && [ "$moved" -le 32 ]; then ok "shed: $moved of $N clients moved to apac"
else fail "shed: $moved of $N moved (want about half)"; fi
check "shed: ECS clients of other regions unchanged" "$EMEA" "$(dig_short +subnet=198.51.100.0/24 $W A | sort | tr '\n' ' ' | sed 's/ $//')"
out=$(ctl overrides)
check_grep "overrides: who, why, until" "^override #1 shed americas to apac 50.00% until 20.* by uid $(id -u) at 20.* reason \"PoP maintenance ticket 42\"" "$out"
out=$(ctl status)
check_grep "status: the override on its region" "^region americas vips .* shed 50.00% to apac \\(override #1\\)" "$out"
check_grep "status: the active override" "^override #1 " "$out"
check_grep "audit line for the shed" "audit: uid $(id -u) added #1 shed americas → apac 50.00% until 20.*, set by uid $(id -u), reason \"PoP maintenance ticket 42\"" "$(cat "$SERVER_LOG")"
bad "a second override on one region" "region 'americas' already has override #1; undo it first" \
	shed americas --to emea --percent 10 --for 1m --reason x
first_moved=$(awk -v a=$APAC '$2 == a { print $1; exit }' "$TEST_TMP/shed")
out=$(ctl lookup 127.0.$first_moved.1)
check_grep "lookup: shows the runtime override" "shed .*to apac at 50.00% \\(runtime override #1\\).*→ shed" "$out"
check_grep "lookup: the answer region" "answer region +apac" "$out"
[ -f "$SOCK.state" ] && ok "state file written beside the socket" || fail "no $SOCK.state"

# --- undo: every answer comes back
out=$(ctl undo 1)
check_grep "undo: confirmed" "removed override #1" "$out"
answers "$TEST_TMP/undone"
check "undo: every client is americas again" $N "$(count_answer "$TEST_TMP/undone" $AMERICAS)"
check_grep "audit line for the undo" "audit: uid $(id -u) removed #1 shed americas → apac" "$(cat "$SERVER_LOG")"
check_grep "status: americas without a shed again" "^region americas vips 192.0.2.10 2001:db8:10::1$" "$(ctl status)"

# --- drain with expiry: everyone moves, and comes back by itself
# 3 s: time for two digs right after it on this loaded machine (python
# takes seconds to start here, so no full sweep within the override)
out=$(ctl drain americas --to emea --for 3s --reason "expiry test")
check_grep "drain: answered" "^override #2: drain americas to emea 100.00%" "$out"
for i in $FIRST $LAST; do
	check "drain: 127.0.$i.1 is emea" "$EMEA" "$(dig @127.0.0.1 -p "$PORT" -b 127.0.$i.1 +short $W A | sort | tr '\n' ' ' | sed 's/ $//')"
done
if wait_log "audit: expired #2 drain americas → emea" 1 6; then ok "expiry logged as an audit line"
else fail "no expiry audit line within 6 s"; fi
answers "$TEST_TMP/expired"
check "after expiry: every client is americas" $N "$(count_answer "$TEST_TMP/expired" $AMERICAS)"
check "after expiry: no override" "0 active" "$(ctl overrides)"

# --- reload: waits and reports; overrides survive it
ctl shed americas --to apac --percent 100 --for 1h --reason "persist" > /dev/null
check "100% shed: 127.0.10.1 is apac" $APAC "$(dig @127.0.0.1 -p "$PORT" -b 127.0.10.1 +short $W A)"
out=$(ctl reload); rc=$?
check "reload: exit 0" 0 "$rc"
check_grep "reload: reports the new generation" "^reloaded: generation [0-9]+ serving" "$out"
check "after reload: the override still applies" $APAC "$(dig @127.0.0.1 -p "$PORT" -b 127.0.10.1 +short $W A)"
cp "$CONF" "$TEST_TMP/good.yaml"
echo "bogus_key: 1" >> "$CONF"
out=$(ctl reload 2>&1); rc=$?
check "reload of a broken config: exit 1" 1 "$rc"
check_grep "reload of a broken config: FILE:LINE error" "^error: $CONF:[0-9]+: .*bogus_key" "$out"
check_grep "reload of a broken config: kept" "reload failed, keeping generation" "$out"
check "after a failed reload: still served with the override" $APAC "$(dig @127.0.0.1 -p "$PORT" -b 127.0.10.1 +short $W A)"
cp "$TEST_TMP/good.yaml" "$CONF"

# --- restart: the state file brings the override back
stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
[ -e "$SOCK" ] && fail "socket left behind after stop" || ok "socket removed at stop"
start_server
check_grep "restart: override restored" "restored override #3 shed americas → apac 100.00%" "$(cat "$SERVER_LOG")"
check "restart: the override still applies" $APAC "$(dig @127.0.0.1 -p "$PORT" -b 127.0.10.1 +short $W A)"
check_grep "restart: listed" "^override #3 shed americas to apac 100.00%" "$(ctl overrides)"
ctl undo 3 > /dev/null
out=$(ctl shed lab --to apac --percent 5 --for 1h --reason "ids go on")
check_grep "restart: ids are never reused" "^override #4:" "$out"
ctl undo 4 > /dev/null

# --- under load: an override added and removed every 200 ms; no query
# lost, every answer exactly one region's
SET_A=$AMERICAS
SET_B=$APAC
python3 "$DNSCLIENT" --port "$PORT" load --name $W --duration 5 --window 16 \
	--timeout 2 --sets "$SET_A|$SET_B" > "$TEST_TMP/load.out" 2>&1 &
loader=$!
sleep 0.3
changes=0
for i in $(seq 1 10); do
	id=$(ctl drain americas --to apac --for 1h --reason "load $i" | sed -n 's/^override #\([0-9]*\):.*/\1/p')
	sleep 0.2
	ctl undo "$id" > /dev/null && changes=$((changes + 2))
	sleep 0.2
done
wait "$loader"
load=$(head -1 "$TEST_TMP/load.out")
echo "# load: $load ($changes override changes)"
lost=$(printf '%s\n' "$load" | sed -n 's/.* lost=\([0-9]*\).*/\1/p')
other=$(printf '%s\n' "$load" | sed -n 's/.* other=\([0-9]*\).*/\1/p')
sets=$(printf '%s\n' "$load" | sed -n 's/.* sets=\([0-9]*\/[0-9]*\).*/\1/p')
check "under load: 20 override changes made" 20 "$changes"
check "under load: zero lost queries" 0 "$lost"
check "under load: every answer is exactly americas or apac" 0 "$other"
case $sets in 0/*|*/0|"") fail "under load: not both regions seen ('$sets')" ;; *) ok "under load: both regions answered ($sets)" ;; esac

stop_server TERM
check "final SIGTERM exit status" 0 "$SERVER_STATUS"
finish
