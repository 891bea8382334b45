#!/bin/bash
# tests/integration/secondary.sh — secondary zones against a real primary:
# NSD on loopback serves sec.test with a TSIG key; geovip transfers it and
# answers its regional names; a serial bump + NOTIFY reaches geovip within
# seconds; a wrong key, a NOTIFY from an unknown address or unsigned, a
# fake primary that sends garbage or stalls, and a new copy that does not
# load all keep the old data and log; a restart serves the copy at once.
. "$(dirname "$0")/lib-extra.sh"
. "$(dirname "$0")/lib-primary.sh"
require dig python3 nsd

NSD_DIR="$TEST_TMP/nsd"
BADKEY=$(head -c 32 /dev/urandom | base64)

primary_setup "$NSD_DIR"
NSD_PORT=$PRIMARY_PORT

# sec_zone SERIAL WWW-ADDRESS [EXTRA LINE]
sec_zone() {
	cat > "$NSD_DIR/sec.test.zone" <<EOF
\$ORIGIN $SEC.
\$TTL 300
@    IN SOA ns1 hostmaster $1 2 1 600 60
@    IN NS  ns1
ns1  IN A   192.0.2.53
$([ "$2" = cname ] && echo "www IN CNAME ns1" || echo "www  IN A   $2")
txt  IN TXT "serial-$1"
${3:-}
EOF
	# NSD reloads a file whose mtime changed: same-second edits must show
	touch -d "@$(($(date +%s) + $1 * 10))" "$NSD_DIR/sec.test.zone"
}

start_nsd() {
	cat > "$NSD_DIR/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  zonesdir: "$NSD_DIR"
  pidfile: "$NSD_DIR/nsd.pid"
  database: ""
  xfrdfile: "$NSD_DIR/xfrd.state"
  zonelistfile: "$NSD_DIR/zone.list"
  username: ""
  chroot: ""
  logfile: "$NSD_DIR/nsd.log"
  server-count: 1
  verbosity: 2
remote-control:
  control-enable: no
key:
  name: xfrkey
  algorithm: hmac-sha256
  secret: "$KEY"
zone:
  name: $SEC
  zonefile: sec.test.zone
  provide-xfr: 127.0.0.1 xfrkey
  notify: 127.0.0.1@$PORT xfrkey
EOF
	nsd -c "$NSD_DIR/nsd.conf" -d >>"$NSD_DIR/nsd.out" 2>&1 &
	PRIMARY_PID=$!
	local i
	for i in $(seq 1 100); do
		dig @127.0.0.1 -p "$NSD_PORT" +tries=1 +time=1 +short $SEC SOA \
			>/dev/null 2>&1 && grep -q "IN SOA\|hostmaster" \
			<(dig @127.0.0.1 -p "$NSD_PORT" +tries=1 +time=1 $SEC SOA) &&
			return 0
		sleep 0.1
	done
	echo "FAIL - nsd did not start"; cat "$NSD_DIR/nsd.out" "$NSD_DIR/nsd.log"
	exit 1
}

# sec_config SECRET PRIMARY_PORT
sec_config() { primary_config "$2" "$1" tsig; }

write_zone 2024010101
sec_zone 1 192.0.2.80
start_nsd

# --- first transfer: no copy yet, then the zone is served
sec_config "$KEY" "$NSD_PORT"
"$GEOVIPD" -c "$CONF" --check > "$TEST_TMP/check.out" 2>&1
check_grep "--check names the secondary zone" \
	"zone $SEC.: secondary of 127.0.0.1:$NSD_PORT, no copy yet" \
	"$(cat "$TEST_TMP/check.out")"
start_server
check "transferred TXT answered" "serial-1" "$(wait_answer serial-1 10 txt.$SEC TXT)"
check "regional name answered from the transferred zone" "192.0.2.10" \
	"$(sec www.$SEC A)"
check "non-regional name from the transferred zone" "192.0.2.53" \
	"$(sec ns1.$SEC A)"
check_grep "transfer logged" "zone $SEC.: transferred serial 1" "$(cat "$SERVER_LOG")"
[ -f "$COPY" ] && ok "copy written" || fail "no copy at $COPY"

# --- serial bump + NOTIFY (NSD notifies on SIGHUP after a zone change)
sec_zone 2 192.0.2.81
t0=$(now_ms)
kill -HUP "$PRIMARY_PID"
got=$(wait_answer serial-2 10 txt.$SEC TXT)
elapsed=$(($(now_ms) - t0))
check "NOTIFY: new serial answered" "serial-2" "$got"
# NSD reloads before it notifies; 3 s leaves room for a loaded machine.
if [ "$got" = serial-2 ] && [ "$elapsed" -le 3000 ]; then
	ok "NSD reload to new answer in ${elapsed} ms"
else
	fail "new serial not answered within 3 s (${elapsed} ms)"
fi
check_grep "NOTIFY accepted" "NOTIFY from 127.0.0.1 for $SEC.: checking" \
	"$(cat "$SERVER_LOG")"
# NSD without store-ixfr answers our IXFR with the whole zone
check_grep "IXFR answered with the whole zone: taken as such" \
	"zone $SEC.: transferred serial 2 by IXFR \(full zone\) \(was 1\)" \
	"$(cat "$SERVER_LOG")"

# --- NOTIFY unsigned from the primary's address: REFUSED, nothing moves
out=$(dig @127.0.0.1 -p "$PORT" +opcode=notify +tries=1 +time=2 $SEC SOA 2>&1)
check_grep "unsigned NOTIFY REFUSED" "status: REFUSED" "$out"
check_grep "unsigned NOTIFY logged" "NOTIFY from 127.0.0.1 for $SEC.: not signed" \
	"$(cat "$SERVER_LOG")"
# from an address that is not a primary
if ip addr show lo | grep -q "127.0.0.1/8"; then
	out=$(dig @127.0.0.1 -p "$PORT" -b 127.0.0.2 +opcode=notify +tries=1 +time=2 \
		-y "hmac-sha256:xfrkey:$KEY" $SEC SOA 2>&1)
	check_grep "NOTIFY from 127.0.0.2 REFUSED" "status: REFUSED" "$out"
	check_grep "unknown address logged" \
		"NOTIFY from 127.0.0.2 for $SEC.: not a configured primary" \
		"$(cat "$SERVER_LOG")"
fi
# a signed NOTIFY from the primary's address is answered NOERROR with AA
out=$(dig @127.0.0.1 -p "$PORT" +opcode=notify +tries=1 +time=2 \
	-y "hmac-sha256:xfrkey:$KEY" $SEC SOA 2>&1)
check_grep "signed NOTIFY: NOERROR" "status: NOERROR" "$out"
check_grep "signed NOTIFY: AA" "flags: qr aa" "$out"
check_nogrep "signed NOTIFY: reply TSIG verifies" "tsig verify failure|BADSIG" "$out"

# --- a new copy that does not load here (NSD takes it: a CNAME at a
# regional name): the old copy is kept
sec_zone 3 cname
kill -HUP "$PRIMARY_PID"
if wait_log "zone $SEC.: transfer failed, keeping the old copy: the transferred copy \(serial 3\) does not load" 1 10; then
	ok "broken copy refused and logged"
else
	fail "no log line for the broken copy"
fi
check "broken copy: old data still answered" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
check "broken copy: on-disk copy unchanged" 1 "$(grep -c 'serial-2' "$COPY")"

# --- SIGUSR1 status
kill -USR1 "$SERVER_PID"
wait_log "zone $SEC.: secondary, serial 2, last transfer 20" 1 5 &&
	ok "SIGUSR1 status line" || fail "no SIGUSR1 status line"
check_grep "SIGUSR1 shows the last error" "serial 2, .*last error: .*does not load" \
	"$(cat "$SERVER_LOG")"

# --- restart: the copy is served at once, with the primary gone
primary_stop
stop_server
start_server
check "restart: copy served at once" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
check "restart: regional name from the copy" "192.0.2.10" "$(sec www.$SEC A)"
stop_server

# --- wrong key: the primary refuses, old copy kept
sec_zone 4 192.0.2.84
start_nsd
sec_config "$BADKEY" "$NSD_PORT"
start_server
if wait_log "zone $SEC.: transfer failed, keeping the old copy: 127.0.0.1:$NSD_PORT: " 1 10; then
	ok "wrong key: transfer failed and logged"
else
	fail "wrong key: no failure logged"
fi
check "wrong key: old data still answered" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
stop_server
primary_stop

# --- fake primaries: garbage, then a stall mid-transfer
# fake_primary MODE — a TCP server on $NSD_PORT: "garbage" answers random
# bytes; "stall" sends half a message and then nothing.
fake_primary() {
	python3 - "$NSD_PORT" "$1" <<'EOF' &
import socket, sys, time, os, struct
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(5)
while True:
    c, _ = s.accept()
    try:
        c.recv(65535)
        if mode == "garbage":
            body = os.urandom(300)
            c.sendall(struct.pack("!H", len(body)) + body)
            c.close()
        else:
            c.sendall(struct.pack("!H", 500) + b"\x00" * 20)
            time.sleep(60)
    except OSError:
        pass
EOF
	FAKE_PID=$!
	sleep 0.5
}
fake_primary garbage
sec_config "$KEY" "$NSD_PORT"
start_server
if wait_log "zone $SEC.: transfer failed, keeping the old copy: 127.0.0.1:$NSD_PORT: (message 1 .*malformed|message 1 is not a reply|the primary answered)" 1 10; then
	ok "garbage primary: failure logged"
else
	fail "garbage primary: no failure logged"
fi
check "garbage primary: old data answered" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
stop_server
kill "$FAKE_PID"; wait "$FAKE_PID" 2>/dev/null; FAKE_PID=

fake_primary stall
start_server
t0=$(now_ms)
check "stalled primary: queries still answered" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
# XFR_IDLE_TIMEOUT is 10 s; 20 s leaves room for a loaded machine.
if wait_log "zone $SEC.: transfer failed, keeping the old copy: .*no data from the primary for 10 s" 1 20; then
	ok "stalled primary: gave up after $(($(now_ms) - t0)) ms"
else
	fail "stalled primary: no timeout logged"
fi
check "stalled primary: old data answered" "serial-2" "$(sec txt.$SEC TXT | tr -d '"')"
stop_server
check "stalled primary: clean stop" 0 "$SERVER_STATUS"
finish
