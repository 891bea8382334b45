#!/bin/bash
# tests/integration/ixfr.sh — incremental transfers from a real primary:
# Knot (zonefile-load: difference, a journal of changes) serves sec.test
# with TSIG; geovip takes the first copy by AXFR, then each change by IXFR
# (Knot's log shows an IXFR served), one record changed is answered
# within seconds of the NOTIFY, a chain of two versions applies at once;
# NOTIFY over TCP is checked as over UDP; the zone stops being answered
# (SERVFAIL) past its SOA expire and comes back with the primary; the
# control socket's `zones` and --check show the status; fake primaries
# with a malformed IXFR (wrong start, a deletion of a missing record,
# garbage, a stall) keep the old copy and log, and one whose IXFR is bad
# but whose AXFR is good is taken by AXFR.
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-primary.sh"
require dig python3 knotd knotc
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"

KD="$TEST_TMP/knot"
SOCK="$TEST_TMP/ctl.sock"
FAKE="$top_srcdir/tests/integration/fake_ixfr.py"

primary_setup "$KD"
KNOT_PORT=$PRIMARY_PORT

# knot_zone SERIAL REFRESH EXPIRE [LINE...] — the primary's zone file
# (retry 1 s: the primary is found again at once after it was down)
knot_zone() {
	local serial=$1 refresh=$2 expire=$3
	shift 3
	{
		echo "\$ORIGIN $SEC."
		echo "\$TTL 300"
		echo "@    IN SOA ns1 hostmaster $serial $refresh 1 $expire 60"
		echo "@    IN NS  ns1"
		echo "ns1  IN A   192.0.2.53"
		echo "www  IN A   192.0.2.80"
		for line in "$@"; do echo "$line"; done
	} > "$KD/sec.test.zone"
}

start_knot() {
	cat > "$KD/knot.conf" <<EOF
server:
  rundir: "$KD"
  listen: 127.0.0.1@$KNOT_PORT
  background-workers: 1
  tcp-workers: 1
  udp-workers: 1
log:
  - target: "$KD/knot.log"
    any: info
database:
  storage: "$KD"
key:
  - id: xfrkey
    algorithm: hmac-sha256
    secret: $KEY
remote:
  - id: geovip
    address: 127.0.0.1@$PORT
    key: xfrkey
acl:
  - id: xfr
    address: 127.0.0.1
    key: xfrkey
    action: transfer
template:
  - id: default
    storage: "$KD"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: $SEC
    file: sec.test.zone
    notify: geovip
    acl: xfr
EOF
	knotd -c "$KD/knot.conf" >>"$KD/knot.out" 2>&1 &
	PRIMARY_PID=$!
	local i
	for i in $(seq 1 100); do
		dig @127.0.0.1 -p "$KNOT_PORT" +tries=1 +time=1 $SEC SOA 2>/dev/null |
			grep -q "hostmaster" && return 0
		sleep 0.1
	done
	echo "FAIL - knotd did not start"; cat "$KD/knot.out" "$KD/knot.log"
	exit 1
}

stop_knot() { primary_stop; }

knot_reload() { knotc -c "$KD/knot.conf" zone-reload $SEC >/dev/null; }

# sec_config PRIMARY_PORT [nokey]
sec_config() { primary_config "$1" "$KEY" "${2:-tsig}" "control: $SOCK"; }

sec_status() {
	dig @127.0.0.1 -p "$PORT" +tries=1 +time=1 "$@" 2>&1 |
		sed -n 's/.*status: \([A-Z]*\).*/\1/p'
}

# wait_status EXPECTED SECONDS ARGS... — polls the RCODE.
wait_status() {
	local want=$1 secs=$2 i got=
	shift 2
	for i in $(seq 1 $((secs * 10))); do
		got=$(sec_status "$@")
		[ "$got" = "$want" ] && { echo "$got"; return 0; }
		sleep 0.1
	done
	echo "$got"
	return 1
}

ctl() { timeout 30 "$GEOVIPCTL" -s "$SOCK" "$@"; }

write_zone 2024010101

# --- the first copy: AXFR (nothing to apply a diff to)
knot_zone 1 600 600 "host IN A 192.0.2.1" 'txt IN TXT "v1"'
start_knot
sec_config "$KNOT_PORT"
start_server
check "first copy answered" "192.0.2.1" "$(wait_answer 192.0.2.1 10 host.$SEC A)"
check_grep "first copy by AXFR" "zone $SEC.: transferred serial 1 by AXFR" \
	"$(cat "$SERVER_LOG")"

# --- one record changed: NOTIFY, then an IXFR
knot_zone 2 600 600 "host IN A 192.0.2.2" 'txt IN TXT "v1"'
t0=$(now_ms)
knot_reload
got=$(wait_answer 192.0.2.2 10 host.$SEC A)
elapsed=$(($(now_ms) - t0))
check "IXFR: the changed record answered" "192.0.2.2" "$got"
# Knot reloads, then notifies; 3 s leaves room for a loaded machine.
if [ "$got" = 192.0.2.2 ] && [ "$elapsed" -le 3000 ]; then
	ok "primary reload to new answer in ${elapsed} ms"
else
	fail "new record not answered within 3 s (${elapsed} ms)"
fi
check_grep "geovip logs the IXFR" \
	"zone $SEC.: transferred serial 2 by IXFR \(was 1\), records deleted: 1, added: 1 in [0-9]+ ms, checked in [0-9]+ ms" \
	"$(cat "$SERVER_LOG")"
check_grep "Knot served an IXFR" "IXFR, outgoing, remote 127.0.0.1@[0-9]+, started, serial 1 -> 2" \
	"$(cat "$KD/knot.log")"
check "Knot served one AXFR in all" 1 "$(grep -c 'AXFR, outgoing.*started' "$KD/knot.log")"
check "copy: the new record" 1 "$(grep -c '192\.0\.2\.2$' "$COPY")"
check "copy: not the old one" 0 "$(grep -c '192\.0\.2\.1$' "$COPY")"
check "copy: the new SOA" 1 "$(grep -Ec 'SOA.* 2 600 1 600 60' "$COPY")"
check "regional name still regional" "192.0.2.10" "$(sec www.$SEC A)"
check "unchanged record kept" "v1" "$(sec txt.$SEC TXT | tr -d '"')"

# --- NOTIFY over TCP: as over UDP
out=$(dig @127.0.0.1 -p "$PORT" +tcp +opcode=notify +tries=1 +time=2 \
	-y "hmac-sha256:xfrkey:$KEY" $SEC SOA 2>&1)
check_grep "signed NOTIFY over TCP: NOERROR" "status: NOERROR" "$out"
check_grep "signed NOTIFY over TCP: AA" "flags: qr aa" "$out"
check_nogrep "NOTIFY over TCP: reply TSIG verifies" "tsig verify failure|BADSIG" "$out"
check_grep "NOTIFY over TCP logged" \
	"NOTIFY from 127.0.0.1 over TCP for $SEC.: checking the primary" \
	"$(cat "$SERVER_LOG")"
out=$(dig @127.0.0.1 -p "$PORT" +tcp +opcode=notify +tries=1 +time=2 $SEC SOA 2>&1)
check_grep "unsigned NOTIFY over TCP: REFUSED" "status: REFUSED" "$out"
check_grep "unsigned NOTIFY over TCP logged" \
	"NOTIFY from 127.0.0.1 over TCP for $SEC.: not signed" "$(cat "$SERVER_LOG")"
if ip addr show lo | grep -q "127.0.0.1/8"; then
	out=$(dig @127.0.0.1 -p "$PORT" -b 127.0.0.2 +tcp +opcode=notify +tries=1 \
		+time=2 -y "hmac-sha256:xfrkey:$KEY" $SEC SOA 2>&1)
	check_grep "NOTIFY over TCP from 127.0.0.2: REFUSED" "status: REFUSED" "$out"
	check_grep "NOTIFY over TCP from 127.0.0.2 logged" \
		"NOTIFY from 127.0.0.2 over TCP for $SEC.: not a configured primary" \
		"$(cat "$SERVER_LOG")"
fi
out=$(dig @127.0.0.1 -p "$PORT" +tcp +opcode=notify +tries=1 +time=2 \
	other.test SOA 2>&1)
check_grep "NOTIFY over TCP for another zone: REFUSED" "status: REFUSED" "$out"
check "TCP queries still answered after NOTIFYs" "192.0.2.2" \
	"$(dig @127.0.0.1 -p "$PORT" +tcp +short host.$SEC A)"

# --- status through the control socket
out=$(ctl zones)
check_grep "zones: serial and state" "^zone $SEC. serial 2 state serving last-transfer 20[0-9T:-]+Z by IXFR last-refresh 20" "$out"
check_grep "zones: next refresh, expiry, error" "next-refresh .* expires 20[0-9T:-]+Z error none$" "$out"

# --- a chain of two versions while geovip is down: one IXFR applies both
stop_server
knot_zone 3 600 600 "host IN A 192.0.2.2" 'txt IN TXT "v3"' "new1 IN A 192.0.2.31"
knot_reload
sleep 1
knot_zone 4 600 600 'txt IN TXT "v3"' "new1 IN A 192.0.2.31" "new2 IN AAAA 2001:db8::4"
knot_reload
sleep 1
start_server
check "two versions: the new data" "2001:db8::4" "$(wait_answer 2001:db8::4 10 new2.$SEC AAAA)"
check "two versions: a record of the middle one" "192.0.2.31" "$(sec new1.$SEC A)"
check "two versions: a deleted name is gone" "NXDOMAIN" "$(sec_status host.$SEC A)"
check "two versions: a changed record" "v3" "$(sec txt.$SEC TXT | tr -d '"')"
check_grep "two versions: by IXFR" "zone $SEC.: transferred serial 4 by IXFR \(was 2\)" \
	"$(cat "$SERVER_LOG")"
check_grep "Knot served serial 2 -> 4" "IXFR, outgoing, remote .*serial 2 -> 4" \
	"$(cat "$KD/knot.log")"
"$GEOVIPD" -c "$CONF" --check > "$TEST_TMP/check.out" 2>&1
check_grep "--check: the copy's serial and expiry" \
	"zone $SEC.: secondary of 127.0.0.1:$KNOT_PORT, copy $COPY serial 4, last confirmed 20[0-9T:-]+Z, expires 20" \
	"$(cat "$TEST_TMP/check.out")"

# --- expire: a short SOA expire and the primary gone → SERVFAIL, then back
knot_zone 5 1 4 'txt IN TXT "v5"' "new1 IN A 192.0.2.31"
knot_reload
check "short expire: new serial answered" "v5" "$(wait_answer v5 10 txt.$SEC TXT)"
stop_knot
t0=$(now_ms)
got=$(wait_status SERVFAIL 15 txt.$SEC TXT)
check "past SOA expire: SERVFAIL" "SERVFAIL" "$got"
echo "# SERVFAIL $(($(now_ms) - t0)) ms after the primary stopped (expire 4 s)"
check_grep "expiry logged" "zone $SEC.: expired: no primary has confirmed serial 5 for 4 s" \
	"$(cat "$SERVER_LOG")"
check "expired: other zones still answered" "$TOKEN" "$(sec token.$ZONE TXT | tr -d '"')"
check_grep "zones: expired" "^zone $SEC. serial 5 state expired .*error .*cannot connect" "$(ctl zones)"
# a restart with the copy past expiry: SERVFAIL at once, --check says so
stop_server
"$GEOVIPD" -c "$CONF" --check > "$TEST_TMP/check.out" 2>&1
check_grep "--check: expired" "serial 5, last confirmed .*, expired at 20" "$(cat "$TEST_TMP/check.out")"
start_server
check "restart past expiry: SERVFAIL" "SERVFAIL" "$(sec_status txt.$SEC TXT)"
start_knot
got=$(wait_status NOERROR 15 txt.$SEC TXT)
check "primary back: answered again" "NOERROR" "$got"
check "primary back: the data" "v5" "$(sec txt.$SEC TXT | tr -d '"')"
check_grep "primary back logged" "zone $SEC.: a primary answered again" "$(cat "$SERVER_LOG")"
stop_server
stop_knot
cp "$COPY" "$TEST_TMP/copy.good"
touch "$COPY"

# --- fake primaries (unsigned): malformed IXFRs keep the old copy
# fake MODE — a fake primary on KNOT_PORT
fake() {
	python3 "$FAKE" "$KNOT_PORT" "$1" &
	FAKE_PID=$!
	local i
	for i in $(seq 1 50); do
		python3 -c "import socket; socket.create_connection(('127.0.0.1', $KNOT_PORT), 1)" \
			2>/dev/null && return 0
		sleep 0.1
	done
}
unfake() { kill "$FAKE_PID" 2>/dev/null; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=; }
sec_config "$KNOT_PORT" nokey
# raise the expiry in the copy so the fakes test transfers, not expiry
sed -i 's/\(SOA.* 5 1 1 \)4 60/\1600 60/' "$COPY"

# bad_ixfr MODE WHAT LOG-PATTERN
bad_ixfr() {
	fake "$1"
	start_server
	if wait_log "zone $SEC.: IXFR from 127.0.0.1:$KNOT_PORT failed: $3; trying AXFR" 1 10 &&
		wait_log "zone $SEC.: transfer failed, keeping the old copy" 1 10; then
		ok "$2: logged, AXFR tried, old copy kept"
	else
		fail "$2: no log line"; sed 's/^/    /' "$SERVER_LOG"
	fi
	check "$2: old data answered" "v5" "$(sec txt.$SEC TXT | tr -d '"')"
	check "$2: copy unchanged" "" "$(cmp "$COPY" "$TEST_TMP/copy.fake" 2>&1)"
	stop_server
	unfake
}
cp "$COPY" "$TEST_TMP/copy.fake"
bad_ixfr wrong-start "IXFR from the wrong serial" \
	"the IXFR starts at serial 4, not at ours \(5\)"
bad_ixfr bad-delete "IXFR deleting a missing record" \
	"the IXFR deletes a record the copy does not have: nothere.sec.test. 300 IN A 192.0.2.7"
bad_ixfr backwards "IXFR going backwards" \
	"the IXFR goes from serial 5 to 4 \(the end is 6\)"
bad_ixfr garbage "garbage IXFR" "message 1 (of the transfer is malformed|is not a reply)"

fake stall
start_server
t0=$(now_ms)
# XFR_IDLE_TIMEOUT is 10 s; 20 s leaves room for a loaded machine.
if wait_log "zone $SEC.: transfer failed, keeping the old copy: .*no data from the primary for 10 s" 1 20; then
	ok "stalled IXFR: gave up after $(($(now_ms) - t0)) ms, no AXFR retry"
else
	fail "stalled IXFR: no timeout logged"
fi
check_nogrep "stalled IXFR: not retried as AXFR" "trying AXFR" "$(cat "$SERVER_LOG")"
check "stalled IXFR: old data answered" "v5" "$(sec txt.$SEC TXT | tr -d '"')"
stop_server
check "stalled IXFR: clean stop" 0 "$SERVER_STATUS"
unfake

# serial arithmetic (RFC 1982): a copy at 2^32 - 6, a good two-version
# IXFR to serial 4 through 4294967295 + 5 = 3 (mod 2^32) ... as the fake
# numbers them: ours + 5, then ours + 10
sed -i 's/\(SOA.* \)5 1 1 600 60/\14294967290 1 1 600 60/' "$COPY"
fake wrap
start_server
check "serial wrap: the diff applied" "wrapped" "$(wait_answer wrapped 10 txt.$SEC TXT)"
check_grep "serial wrap: by IXFR" \
	"zone $SEC.: transferred serial 4 by IXFR \(was 4294967290\), records deleted: 2, added: 2" \
	"$(cat "$SERVER_LOG")"
check "serial wrap: copy has the new SOA" 1 "$(grep -Ec 'SOA.* 4 2 1 600 60' "$COPY")"
stop_server
unfake

# a bad IXFR, then a good AXFR from the same primary: taken by AXFR
fake fallback
start_server
check "fallback: AXFR data answered" "fallback-5" "$(wait_answer fallback-5 10 txt.$SEC TXT)"
check_grep "fallback: logged" "zone $SEC.: transferred serial 5 by AXFR \(was 4\)" \
	"$(cat "$SERVER_LOG")"
stop_server
unfake
finish
