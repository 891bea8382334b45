#!/bin/bash
# tests/bench/dnssec_bench.sh — DNSSEC costs, run by `make bench` (and
# alone by `make bench-dnssec`):
#  1. CPU per regional answer with DO=1 against DO=0: geovipd (one worker,
#     the bench zone signed with an ECDSA P-256 key) answers gen.py's
#     regional mix (ECS from 5306 /24s) under dnsperf, in short runs
#     alternating DO=0 and DO=1 (ABBA); the CPU geovipd used
#     (/proc/PID/stat) over the answers dnsperf got, per run; the ratio
#     DO/no-DO per round and its median (paired: a noisy machine moves
#     both halves of a round alike).
#  2. Signing a generated zone (zonegen.py, 1,000,000 records): `geovipd
#     --check` with one ECDSA P-256 key (NSEC) beside `ldns-signzone` with
#     the same key on the same zone, and unsigned `--check` for reference:
#     wall and CPU seconds and peak RSS (/usr/bin/time -v).
set -eu
top_srcdir=$(cd "${top_srcdir:-.}" && pwd) # the configs are in a temp dir
GEOVIPD=${GEOVIPD:-src/geovipd}
ROUNDS=${BENCH_DO_ROUNDS:-9}
SECONDS_PER_RUN=${BENCH_DO_SECONDS:-3}
RECORDS=${BENCH_SIGN_RECORDS:-1000000}
PARTS=${BENCH_DNSSEC_PARTS:-do sign}

need() { # need COMMAND PACKAGE
	command -v "$1" >/dev/null 2>&1 && return 0
	apt-get install -y --no-install-recommends "$2" >/dev/null 2>&1 ||
		{ echo "dnssec_bench: $1 is missing (apt-get install $2)" >&2; exit 1; }
}
[ -x /usr/bin/time ] || need /usr/bin/time time
need dnsperf dnsperf
need ldns-keygen ldnsutils
need ldns-signzone ldnsutils
need dig bind9-dnsutils

tmp=$(mktemp -d /tmp/geovip-dnssec-bench.XXXXXX)
SERVER_PID=
cleanup() {
	[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
# pin CPU COMMAND... — COMMAND on that CPU when taskset can; always run
# in a subshell (`&` or `$(...)`): it execs, so $! is COMMAND's PID
pin() {
	local cpu=$1
	shift
	if command -v taskset >/dev/null 2>&1 && [ "$(nproc)" -gt 1 ]; then
		exec taskset -c "$cpu" "$@"
	fi
	exec "$@"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- 1. DO=1 against DO=0 -------------------------------------------------

# cpu_ticks PID — user + system clock ticks of the process so far
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# run FILE — one dnsperf run: "microseconds_of_server_CPU_per_answer answers_per_s"
run() {
	local t0 t1 out done_q
	t0=$(cpu_ticks "$SERVER_PID")
	out=$(pin 1 dnsperf -s 127.0.0.1 -p "$PORT" -B -d "$1" -c 1 -T 1 -q 500 \
		-l "$SECONDS_PER_RUN" -t 1 2>&1)
	t1=$(cpu_ticks "$SERVER_PID")
	done_q=$(printf '%s\n' "$out" | awk '/Queries completed:/ { print $3 }')
	[ -n "$done_q" ] && [ "$done_q" -gt 0 ] ||
		{ echo "dnssec_bench: dnsperf failed: $out" >&2; exit 1; }
	awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$done_q" -v s="$SECONDS_PER_RUN" \
		'BEGIN { printf "%.3f %d\n", t / hz * 1e6 / n, n / s }'
}

bench_do() {
	python3 "$top_srcdir/tests/bench/gen.py" "$tmp" >/dev/null
	local key
	key=$(cd "$tmp" && ldns-keygen -a ECDSAP256SHA256 -k example.com)
	PORT=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	sed -e "s|@PORT@|$PORT|" -e "s|@DIR@|$tmp|" -e "s|@GEO@|$top_srcdir/geo/sample.mmdb|" \
		"$top_srcdir/tests/bench/configs/geovip.yaml.in" > "$tmp/geovip.yaml"
	echo "    dnssec: { keys: [\"$tmp/$key\"] }" >> "$tmp/geovip.yaml"
	pin 0 "$GEOVIPD" -c "$tmp/geovip.yaml" >"$tmp/server.log" 2>&1 &
	SERVER_PID=$!
	local i
	for i in $(seq 1 100); do
		grep -q "geovipd: serving on" "$tmp/server.log" && break
		sleep 0.1
	done
	grep -q "geovipd: serving on" "$tmp/server.log" ||
		{ echo "dnssec_bench: geovipd did not start:" >&2; cat "$tmp/server.log" >&2; exit 1; }
	# correctness first: DO=1 gets the region's A with its RRSIG, DO=0 none
	local a
	a=$(dig @127.0.0.1 -p "$PORT" +norec +dnssec +subnet=81.1.2.0/24 www.example.com A)
	if ! printf '%s\n' "$a" | grep -q "RRSIG.*A 13 3" ||
		! printf '%s\n' "$a" | grep -q "198.51.100.10"; then
		echo "dnssec_bench: no signed emea answer:" >&2
		printf '%s\n' "$a" >&2
		exit 1
	fi
	a=$(dig @127.0.0.1 -p "$PORT" +norec +subnet=81.1.2.0/24 www.example.com A)
	if printf '%s\n' "$a" | grep -q RRSIG; then
		echo "dnssec_bench: RRSIG without DO" >&2
		exit 1
	fi
	echo "#### DNSSEC: server CPU per regional answer, DO=1 / DO=0"
	echo "# $ROUNDS rounds of 2 dnsperf runs of ${SECONDS_PER_RUN} s (regional mix, 8192 ECS queries), alternating ABBA; geovipd workers: 1"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at start"
	echo
	echo "| round | order | no-DO µs CPU/answer (answers/s) | DO µs CPU/answer (answers/s) | ratio |"
	echo "|---|---|---|---|---|"
	: > "$tmp/ratios"
	local r plain signed order ratio
	for r in $(seq 1 "$ROUNDS"); do
		if [ $((r % 2)) = 1 ]; then
			order="no-DO, DO"
			plain=$(run "$tmp/regional.bin")
			signed=$(run "$tmp/regional-do.bin")
		else
			order="DO, no-DO"
			signed=$(run "$tmp/regional-do.bin")
			plain=$(run "$tmp/regional.bin")
		fi
		ratio=$(awk -v a="${signed%% *}" -v b="${plain%% *}" 'BEGIN { printf "%.3f", a / b }')
		echo "$ratio" >> "$tmp/ratios"
		echo "| $r | $order | ${plain%% *} (${plain##* }) | ${signed%% *} (${signed##* }) | $ratio |"
	done
	echo
	echo "median ratio DO/no-DO: $(median < "$tmp/ratios") (target <= 1.1)"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at end"
	echo
	kill "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
}

# ---- 2. signing the 1M-record zone ----------------------------------------

# measure NAME COMMAND... — one run: "wall_s cpu_s peak_kB", or exits on failure
measure() {
	local name=$1
	shift
	if ! /usr/bin/time -v "$@" >"$tmp/$name.out" 2>"$tmp/$name.time"; then
		echo "dnssec_bench: $name failed:" >&2
		tail -20 "$tmp/$name.out" "$tmp/$name.time" >&2
		exit 1
	fi
	awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":");
		s = (n == 3) ? t[1] * 3600 + t[2] * 60 + t[3] : t[1] * 60 + t[2] }
		/User time \(seconds\)/ { cpu += $2 }
		/System time \(seconds\)/ { cpu += $2 }
		/Maximum resident set size/ { kb = $2 }
		END { printf "%.1f %.1f %d\n", s, cpu, kb }' "$tmp/$name.time"
}

bench_sign() {
	python3 "$top_srcdir/tests/bench/zonegen.py" "$RECORDS" "$tmp/bench.zone"
	local key
	key=$(cd "$tmp" && ldns-keygen -a ECDSAP256SHA256 -k bench.test)
	for signed in no yes; do
		{
			echo "listen: [127.0.0.1:53535]"
			echo "geoip: $top_srcdir/geo/sample.mmdb"
			echo "regions: {all: {continents: [NA, SA, EU, AF, AS, OC, AN], vips: [192.0.2.1]}}"
			echo "default_region: all"
			echo "zones:"
			echo "  - origin: bench.test."
			echo "    file: $tmp/bench.zone"
			[ "$signed" = yes ] && echo "    dnssec: { keys: [\"$tmp/$key\"] }"
		} > "$tmp/geovip-$signed.yaml"
	done
	echo "#### DNSSEC: signing $RECORDS records ($(du -h "$tmp/bench.zone" | cut -f1)), one ECDSA P-256 key, NSEC"
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at start (CPU seconds are the ones to compare on a shared machine)"
	echo
	echo "| run | wall s | CPU s | peak RSS MB |"
	echo "|---|---|---|---|"
	local s c kb
	read -r s c kb < <(measure unsigned "$GEOVIPD" -c "$tmp/geovip-no.yaml" --check)
	echo "| geovipd --check, unsigned | $s | $c | $((kb / 1024)) |"
	read -r s c kb < <(measure signed "$GEOVIPD" -c "$tmp/geovip-yes.yaml" --check)
	echo "| geovipd --check, signed | $s | $c | $((kb / 1024)) |"
	read -r s c kb < <(measure ldns ldns-signzone -f /dev/null -o bench.test. "$tmp/bench.zone" "$tmp/$key")
	echo "| ldns-signzone | $s | $c | $((kb / 1024)) |"
	echo
	echo "# load: $(cut -d' ' -f1-3 /proc/loadavg) at end"
}

for part in $PARTS; do
	case $part in
	do) bench_do ;;
	sign) bench_sign ;;
	*) echo "dnssec_bench: unknown part '$part' (do, sign)" >&2; exit 2 ;;
	esac
done
