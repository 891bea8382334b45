#!/bin/bash
# tests/bench/xfr_bench.sh — transfer time and memory for a secondary zone
# of N records (default 100000, tests/bench/zonegen.py) from NSD on
# loopback with TSIG: time from the daemon's start to the transferred
# zone's reload, and the daemon's peak and current RSS, against the same
# zone served from a file. Not part of `make check`. Usage: xfr_bench.sh [N]
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
trap 'kill $NSD_PID 2>/dev/null; lib_cleanup' EXIT
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
