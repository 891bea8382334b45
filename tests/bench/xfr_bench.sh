#!/bin/bash
# tests/bench/xfr_bench.sh — transfer time and memory for a secondary zone
# of N records (default 100000, tests/bench/zonegen.py) from NSD on
# loopback with TSIG: time from the daemon's start to the transferred
# zone's reload, and the daemon's peak and current RSS, against the same
# zone served from a file; then, when knotd is installed, the same zone
# from Knot: the first copy by AXFR, then one record changed and taken by
# IXFR after Knot's NOTIFY (time from the NOTIFY to the new snapshot, RSS).
# Not part of `make check`. Usage: xfr_bench.sh [N]
set -u
N=${1:-100000}
top_srcdir=$(cd "$(dirname "$0")/../.." && pwd)
export top_srcdir
. "$top_srcdir/tests/integration/lib-extra.sh"
require nsd dig python3
D="$TEST_TMP/nsd"; mkdir -p "$D"
KEY=$(head -c 32 /dev/urandom | base64)
pick_port; NSD_PORT=$PORT; pick_port
python3 "$top_srcdir/tests/bench/zonegen.py" "$N" "$D/bench.test.zone"
cat > "$D/nsd.conf" <<EOF
server:
  ip-address: 127.0.0.1@$NSD_PORT
  zonesdir: "$D"
  pidfile: "$D/nsd.pid"
  database: ""
  xfrdfile: "$D/xfrd.state"
  zonelistfile: "$D/zone.list"
  username: ""
  chroot: ""
  logfile: "$D/nsd.log"
  server-count: 1
remote-control:
  control-enable: no
key:
  name: k
  algorithm: hmac-sha256
  secret: "$KEY"
zone:
  name: bench.test
  zonefile: bench.test.zone
  provide-xfr: 127.0.0.1 k
EOF
nsd -c "$D/nsd.conf" -d >/dev/null 2>&1 &
NSD_PID=$!
KNOT_PID=
trap 'kill $NSD_PID $KNOT_PID 2>/dev/null; wait 2>/dev/null; lib_cleanup' EXIT
for i in $(seq 1 100); do
	dig @127.0.0.1 -p "$NSD_PORT" +short +tries=1 +time=1 bench.test SOA | grep -q hostmaster && break
	sleep 0.2
done
write_zone 1
rss() { awk '/VmHWM|VmRSS/ { printf "%s %s kB  ", $1, $2 }' /proc/$SERVER_PID/status; }
# secondary
write_geo_config "$CONF" "  - origin: bench.test." "    file: $TEST_TMP/bench.copy" \
	"    primary: [\"127.0.0.1:$NSD_PORT\"]" "    tsig: k" \
	"keys:" "  k: {algorithm: hmac-sha256, secret: \"$KEY\"}"
t0=$(date +%s%N)
start_server
wait_log "reloaded generation 2" 1 300 || { echo "no transfer"; tail "$SERVER_LOG"; exit 1; }
t1=$(date +%s%N)
sleep 1
echo "secondary, $N records: start to transferred+reloaded $(( (t1 - t0) / 1000000 )) ms; $(rss)"
python3 - "$SERVER_LOG" <<'EOF'
import re, sys, datetime
t = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+Z) .*(starting: listen|transferred serial|reloaded generation 2)", line)
    if m:
        t[m.group(2)] = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
s = t["starting: listen"]
print("  transfer (connect, AXFR, write, check the copy): %d ms; then reload: %d ms"
      % ((t["transferred serial"] - s).total_seconds() * 1000,
         (t["reloaded generation 2"] - t["transferred serial"]).total_seconds() * 1000))
EOF
ls -l "$TEST_TMP/bench.copy" | awk '{ print "  copy: " $5 " bytes" }'
stop_server
# the same zone from its copy (a restart)
t0=$(date +%s%N)
start_server
t1=$(date +%s%N)
sleep 1
echo "restart from the copy: ready in $(( (t1 - t0) / 1000000 )) ms; $(rss)"
stop_server

command -v knotd >/dev/null || { echo "knotd not installed: no IXFR figures"; exit 0; }
kill $NSD_PID; wait $NSD_PID 2>/dev/null
# --- Knot: AXFR, then an IXFR of one changed record
K="$TEST_TMP/knot"; mkdir -p "$K"
cp "$D/bench.test.zone" "$K/bench.test.zone"
cat > "$K/knot.conf" <<EOF
server:
  rundir: "$K"
  listen: 127.0.0.1@$NSD_PORT
log:
  - target: "$K/knot.log"
    any: info
database:
  storage: "$K"
key:
  - id: k
    algorithm: hmac-sha256
    secret: $KEY
remote:
  - id: geovip
    address: 127.0.0.1@$PORT
    key: k
acl:
  - id: xfr
    address: 127.0.0.1
    key: k
    action: transfer
template:
  - id: default
    storage: "$K"
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: bench.test
    file: bench.test.zone
    notify: geovip
    acl: xfr
EOF
knotd -c "$K/knot.conf" >/dev/null 2>&1 &
KNOT_PID=$!
for i in $(seq 1 100); do
	dig @127.0.0.1 -p "$NSD_PORT" +short +tries=1 +time=1 bench.test SOA | grep -q hostmaster && break
	sleep 0.2
done
rm -f "$TEST_TMP/bench.copy"
t0=$(date +%s%N)
start_server
wait_log "reloaded generation 2" 1 300 || { echo "no transfer from Knot"; tail "$SERVER_LOG"; exit 1; }
t1=$(date +%s%N)
echo "Knot, $N records: start to AXFR+reload $(( (t1 - t0) / 1000000 )) ms; $(rss)"
# one record changed, the serial bumped
sed -i -e 's/^h0 IN A 10.0.0.0$/h0 IN A 10.9.9.9/' \
	-e 's/ SOA ns1 hostmaster \([0-9]*\) / SOA ns1 hostmaster 2099010101 /' "$K/bench.test.zone"
t0=$(date +%s%N)
knotc -c "$K/knot.conf" zone-reload bench.test >/dev/null
wait_log "reloaded generation 3" 1 300 || { echo "no IXFR"; tail "$SERVER_LOG"; exit 1; }
t1=$(date +%s%N)
sleep 1
echo "Knot, one record changed: knotc zone-reload to new snapshot $(( (t1 - t0) / 1000000 )) ms; $(rss)"
grep -E "IXFR, outgoing.*(started|finished)" "$K/knot.log" | sed 's/^/  knot: /'
python3 - "$SERVER_LOG" <<'EOF'
import re, sys, datetime
t = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+Z) .*(NOTIFY from|transferred serial 2099010101|reloaded generation 3)", line)
    if m and m.group(2) not in t:
        t[m.group(2)] = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%fZ")
    if "transferred serial 2099010101" in line:
        print("  " + line.split("info: ")[-1].strip())
s = t["NOTIFY from"]
print("  NOTIFY to IXFR applied and checked: %d ms; then reload: %d ms"
      % ((t["transferred serial 2099010101"] - s).total_seconds() * 1000,
         (t["reloaded generation 3"] - t["transferred serial 2099010101"]).total_seconds() * 1000))
EOF
stop_server
