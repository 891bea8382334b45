#!/bin/bash
# tests/integration/cli.sh — the command line and the daemon's life: --help,
# --version, --check, a missing config, a port already in use, SIGTERM and
# SIGINT, SIGHUP reloads (good and broken).
. "$(dirname "$0")/lib.sh"
require dig python3

# --- flags
out=$("$GEOVIPD" --help 2>&1); rc=$?
check "--help exit status" 0 "$rc"
check_grep "--help shows usage" "usage: geovipd" "$out"
out=$("$GEOVIPD" --version 2>&1); rc=$?
check "--version exit status" 0 "$rc"
check_grep "--version names the version" "^geovipd [0-9]+\.[0-9]+" "$out"
"$GEOVIPD" --no-such-flag >/dev/null 2>&1; rc=$?
check "unknown flag: exit status 2" 2 "$rc"
# without -c the configure-time default path is used (--check: never serve)
out=$("$GEOVIPD" --check 2>&1); rc=$?
check_grep "no -c: --help names the default config" "geovip/geovip\.yaml" \
	"$("$GEOVIPD" --help)"
if [ ! -e "$("$GEOVIPD" --help | sed -n 's/^ *\(\/.*geovip\.yaml\))$/\1/p')" ]; then
	check "no -c, default config missing: exit status 1" 1 "$rc"
	check_grep "no -c: message names the default path" "geovip/geovip\.yaml" "$out"
fi

# --- --check
out=$("$GEOVIPD" -c "$top_srcdir/zones/geovip.yaml" --check 2>&1); rc=$?
check "--check on the shipped example exits 0" 0 "$rc"
[ "$rc" = 0 ] || printf '%s\n' "$out" | sed 's/^/    /'
missing="$TEST_TMP/no-such-config.yaml"
out=$("$GEOVIPD" -c "$missing" 2>&1); rc=$?
check "missing config: exit status 1" 1 "$rc"
check_grep "missing config: message names the file" "no-such-config\.yaml" "$out"

setup
cp "$CONF" "$TEST_TMP/good.yaml"
printf 'no_such_key: 1\n' >> "$CONF"
bad_line=$(wc -l < "$CONF")
out=$("$GEOVIPD" -c "$CONF" --check 2>&1); rc=$?
check "--check on a bad config exits 1" 1 "$rc"
check_grep "--check names file and line" "^$CONF:$bad_line:" "$out"
cp "$TEST_TMP/good.yaml" "$CONF"

# --- a port already in use: one clear line, even against SO_REUSEPORT
# port_in_use udp|tcp — another process holds $PORT with SO_REUSEPORT.
port_in_use() {
	rm -f "$TEST_TMP/holder.ready"
	python3 - "$PORT" "$TEST_TMP/holder.ready" "$1" <<'EOF' &
import socket, sys, time
tcp = sys.argv[3] == "tcp"
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
if tcp:
    s.listen(5)
open(sys.argv[2], "w").close()
time.sleep(10)
EOF
	local holder=$! i out rc
	for i in $(seq 1 50); do [ -f "$TEST_TMP/holder.ready" ] && break; sleep 0.1; done
	out=$(timeout 10 "$GEOVIPD" -c "$CONF" 2>&1); rc=$?
	kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then
		ok "$1 port in use: non-zero exit"
	else
		fail "$1 port in use: exit status $rc"
	fi
	check_grep "$1 port in use: names the address" \
		"cannot bind 127\.0\.0\.1:$PORT/$1: Address already in use" "$out"
	check "$1 port in use: one line" 1 "$(printf '%s\n' "$out" | grep -c .)"
}
port_in_use udp
port_in_use tcp

# --- SIGTERM, SIGINT, and a second instance on the same port
start_server
out=$(timeout 10 "$GEOVIPD" -c "$CONF" 2>&1); rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]; then ok "second instance refused"; else fail "second instance: exit status $rc"; fi
check_grep "second instance names the address" "cannot bind 127\.0\.0\.1:$PORT/" "$out"
check "first instance still answers" "$TOKEN" "$(dig_short token.$ZONE TXT | tr -d '"')"
stop_server TERM
check "SIGTERM: exit status 0" 0 "$SERVER_STATUS"
start_server
stop_server INT
check "SIGINT: exit status 0" 0 "$SERVER_STATUS"

# --- SIGHUP: a new zone serial is served within a second
serial() { dig_short $ZONE SOA | awk '{ print $3 }'; }
start_server
check "serial before reload" 2024010101 "$(serial)"
write_zone 2024010102
kill -HUP "$SERVER_PID"
got=
for i in $(seq 1 10); do
	got=$(serial)
	[ "$got" = 2024010102 ] && break
	sleep 0.1
done
check "SIGHUP: new serial within a second" 2024010102 "$got"
check_grep "SIGHUP: reload logged" "reloaded" "$(cat "$SERVER_LOG")"

# --- SIGHUP with a broken config: old answers kept, file:line logged
printf 'no_such_key: 1\n' >> "$CONF"
bad_line=$(wc -l < "$CONF")
write_zone 2024010103
kill -HUP "$SERVER_PID"
for i in $(seq 1 30); do
	grep -q "reload failed" "$SERVER_LOG" && break
	sleep 0.1
done
check_grep "broken reload: error names file and line" "$CONF:$bad_line:" "$(cat "$SERVER_LOG")"
check_grep "broken reload: keeps the old generation" "reload failed, keeping generation" "$(cat "$SERVER_LOG")"
check "broken reload: old answers kept" 2024010102 "$(serial)"

# --- SIGHUP with a broken zone file
cp "$TEST_TMP/good.yaml" "$CONF"
echo 'bad     IN A   999.1.2.3' >> "$ZONE_FILE"
zone_bad_line=$(wc -l < "$ZONE_FILE")
kill -HUP "$SERVER_PID"
for i in $(seq 1 30); do
	[ "$(grep -c "reload failed" "$SERVER_LOG")" -ge 2 ] && break
	sleep 0.1
done
check_grep "broken zone: error names zone file and line" \
	"$ZONE_FILE:$zone_bad_line:" "$(cat "$SERVER_LOG")"
check "broken zone: old answers kept" 2024010102 "$(serial)"

# --- a storm of SIGHUPs: the server keeps serving
write_zone 2024010104
for i in 1 2 3 4 5; do kill -HUP "$SERVER_PID"; done
got=
for i in $(seq 1 20); do
	got=$(serial)
	[ "$got" = 2024010104 ] && break
	sleep 0.1
done
check "SIGHUP storm: latest serial served" 2024010104 "$got"

# --- listen or workers changed: not applied, and the log says so
sed -i 's/^workers: 2$/workers: 1/' "$CONF"
kill -HUP "$SERVER_PID"
for i in $(seq 1 30); do
	grep -q "workers changed" "$SERVER_LOG" && break
	sleep 0.1
done
check_grep "changed workers: restart needed is logged" \
	"workers changed.*restart" "$(cat "$SERVER_LOG")"
check "changed workers: still serving" 2024010104 "$(serial)"

stop_server TERM
check "SIGTERM after reloads: exit status 0" 0 "$SERVER_STATUS"
finish
