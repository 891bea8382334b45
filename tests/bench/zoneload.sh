#!/bin/bash
# tests/bench/zoneload.sh — zone loading: `geovipd --check` against
# `nsd-checkzone` on one generated zone (zonegen.py: 1,000,000 records by
# default, 60% A, 20% AAAA, 10% TXT, 10% MX), each run alternately,
# reporting wall and CPU seconds and peak RSS from /usr/bin/time -v, and geovip's
# peak bytes per record. Run by `make bench`; the zone is generated in a
# temp dir and never committed.
set -eu
top_srcdir=${top_srcdir:-.}
GEOVIPD=${GEOVIPD:-src/geovipd}
RECORDS=${BENCH_ZONE_RECORDS:-1000000}
RUNS=${BENCH_ZONE_RUNS:-3}

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 ||
		{ echo "zoneload: $1 is missing (apt-get install $2)" >&2; exit 1; }
}
[ -x /usr/bin/time ] || need /usr/bin/time time
need nsd-checkzone nsd

tmp=$(mktemp -d /tmp/geovip-zoneload.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
python3 "$top_srcdir/tests/bench/zonegen.py" "$RECORDS" "$tmp/bench.zone"
cat > "$tmp/geovip.yaml" <<EOC
listen: [127.0.0.1:53535]
geoip: $top_srcdir/geo/sample.mmdb
regions:
  all:
    continents: [NA, SA, EU, AF, AS, OC, AN]
    vips: [192.0.2.1]
default_region: all
zones:
  - origin: bench.test.
    file: $tmp/bench.zone
EOC

# measure NAME COMMAND... — one run: "wall_s cpu_s peak_kB", or exits on failure
measure() {
	local name=$1
	shift
	if ! /usr/bin/time -v "$@" >"$tmp/$name.out" 2>"$tmp/$name.time"; then
		echo "zoneload: $name failed:" >&2
		cat "$tmp/$name.out" "$tmp/$name.time" >&2
		exit 1
	fi
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":");
		s = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
		/User time \(seconds\)/ { cpu += $2 }
		/System time \(seconds\)/ { cpu += $2 }
		/Maximum resident set size/ { kb = $2 }
		END { printf "%.2f %.2f %d\n", s, cpu, kb }' "$tmp/$name.time"
}

echo "#### zone load: $RECORDS records ($(du -h "$tmp/bench.zone" | cut -f1)), $RUNS runs alternating"
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at start"
echo
echo "| run | geovipd --check s (CPU s) | geovip peak RSS MB | geovip bytes/record | nsd-checkzone s (CPU s) | nsd peak RSS MB |"
echo "|---|---|---|---|---|---|"
for i in $(seq 1 "$RUNS"); do
	read -r gs gc gkb < <(measure geovip "$GEOVIPD" -c "$tmp/geovip.yaml" --check)
	read -r ns nc nkb < <(measure nsd nsd-checkzone bench.test "$tmp/bench.zone")
	echo "| $i | $gs ($gc) | $((gkb / 1024)) | $((gkb * 1024 / RECORDS)) | $ns ($nc) | $((nkb / 1024)) |"
done
echo
echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at end"
