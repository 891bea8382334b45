#!/bin/bash
# tests/bench/geoload.sh — `make bench-geo`: loading a City-sized
# database, geovipd (the merged decision tree) beside gdnsd's plugin_geoip
# on the same file and map (configs/*.in, as `make bench`). Per server and
# run: `--check` / `checkconf` wall seconds and peak RSS (/usr/bin/time
# -v), then the server started: seconds until it answers, and its RSS once
# serving (VmRSS), each against the .mmdb file's size. BENCH_GEO_DB=FILE
# measures that file (e.g. GeoLite2-City.mmdb); otherwise citygen.py
# writes a synthetic one (BENCH_GEO_NETWORKS IPv4 networks, 1,500,000)
# into a temp dir. Not part of `make check`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
GEOVIPD=${GEOVIPD:-$top_srcdir/src/geovipd}
NETWORKS=${BENCH_GEO_NETWORKS:-1500000}
CITIES=${BENCH_GEO_CITIES:-60000}
RUNS=${BENCH_GEO_RUNS:-2}
DB=${BENCH_GEO_DB:-}

die() { echo "geoload: $*" >&2; exit 1; }
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
have_gdnsd=0
command -v gdnsd >/dev/null && have_gdnsd=1

tmp=$(mktemp -d "${TMPDIR:-/tmp}/geovip-geoload.XXXXXX")
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
python3 "$here/gen.py" "$tmp" >/dev/null || die "gen.py failed"
if [ -z "$DB" ]; then
	DB=$tmp/city.mmdb
	python3 "$here/citygen.py" --networks "$NETWORKS" --cities "$CITIES" \
		"$DB" | sed 's/^/# /'
fi
[ -r "$DB" ] || die "cannot read $DB"
DB=$(cd "$(dirname "$DB")" && pwd)/$(basename "$DB")
size_kb=$(( $(stat -c %s "$DB") / 1024 ))
port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

render() { # render TEMPLATE OUT
	sed -e "s|@DIR@|$tmp|g" -e "s|@PORT@|$port|g" -e "s|@GEO@|$DB|g" \
		"$here/configs/$1" > "$2"
}
render geovip.yaml.in "$tmp/geovip.yaml"
mkdir -p "$tmp/gdnsd/conf/zones" "$tmp/gdnsd/run" "$tmp/gdnsd/state"
render gdnsd.config.in "$tmp/gdnsd/conf/config"
cp "$tmp/example.com.gdnsd.zone" "$tmp/gdnsd/conf/zones/example.com"

# timed NAME COMMAND... — "wall_s peak_kB" of one run, or exits
timed() {
	local name=$1
	shift
	/usr/bin/time -v "$@" > "$tmp/$name.out" 2> "$tmp/$name.time" ||
		{ cat "$tmp/$name.out" "$tmp/$name.time" >&2; die "$name failed"; }
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":");
		s = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
		/Maximum resident set size/ { kb = $2 }
		END { printf "%.2f %d\n", s, kb }' "$tmp/$name.time"
}

# first_answer PID — seconds until 127.0.0.1:$port answers an A query
# for www.example.com (asked every 20 ms), or "-" when PID exits first
first_answer() {
	python3 - "$port" "$1" <<'EOF'
import os, socket, sys, time
port, pid = int(sys.argv[1]), int(sys.argv[2])
q = bytes.fromhex('beef01000001000000000000') + \
    b'\x03www\x07example\x03com\x00\x00\x01\x00\x01'
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.02)
t0 = time.monotonic()
while time.monotonic() - t0 < 120:
    try:
        os.kill(pid, 0)
    except OSError:
        break
    try:
        s.sendto(q, ('127.0.0.1', port))
        a = s.recv(512)
        if a[:2] == q[:2] and a[7] > 0:  # an answer record
            print('%.2f' % (time.monotonic() - t0))
            sys.exit(0)
    except OSError:
        time.sleep(0.02)  # refused or timed out: not serving yet
print('-')
EOF
}

# served NAME COMMAND... — starts the server in the background: "seconds
# until it answers, VmRSS kB then, VmHWM kB (peak)", and stops it
served() {
	local name=$1 t rss hwm
	shift
	"$@" > "$tmp/$name.serve.log" 2>&1 &
	pid=$!
	t=$(first_answer "$pid")
	[ "$t" != - ] || { cat "$tmp/$name.serve.log" >&2; die "$name did not serve"; }
	sleep 1 # settled
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status")
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	echo "$t $rss $hwm"
}

ratio() { awk -v a="$1" -v b="$size_kb" 'BEGIN { printf "%.2f", a / b }'; }

echo "#### geo database load: $(basename "$DB"), $((size_kb / 1024)) MB, $RUNS runs"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "| server, run | check s | check peak RSS MB (× mmdb) | serving after s | serving RSS MB (× mmdb) | server peak RSS MB (× mmdb) |"
echo "|---|---|---|---|---|---|"
for r in $(seq 1 "$RUNS"); do
	read -r cs ckb < <(timed geovip "$GEOVIPD" -c "$tmp/geovip.yaml" --check)
	read -r ss skb hkb < <(served geovip "$GEOVIPD" -c "$tmp/geovip.yaml")
	echo "| geovip $r | $cs | $((ckb / 1024)) ($(ratio "$ckb")) | $ss | $((skb / 1024)) ($(ratio "$skb")) | $((hkb / 1024)) ($(ratio "$hkb")) |"
	[ "$have_gdnsd" = 1 ] || continue
	read -r cs ckb < <(timed gdnsd gdnsd -c "$tmp/gdnsd/conf" checkconf)
	read -r ss skb hkb < <(served gdnsd gdnsd -c "$tmp/gdnsd/conf" start)
	echo "| gdnsd $r | $cs | $((ckb / 1024)) ($(ratio "$ckb")) | $ss | $((skb / 1024)) ($(ratio "$skb")) | $((hkb / 1024)) ($(ratio "$hkb")) |"
done
echo
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at end"
