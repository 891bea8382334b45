#!/bin/bash
# tests/bench/bench.sh — `make bench`: geovipd against Knot DNS, NSD and
# gdnsd under dnsperf, and against a do-nothing reflector (reflector.c,
# the floor), one server thread pinned to CPU 0 and dnsperf to CPU 1, same
# zone, same query files, short runs alternated over several rounds;
# prints a table per query mix and the paired CPU-per-answer ratios. Not
# part of `make check`. See tests/bench/README.md.
set -u

BENCH_SECONDS=${BENCH_SECONDS:-4}        # dnsperf -l, per measurement
BENCH_RUNS=${BENCH_RUNS:-5}              # rounds; the table shows the median
BENCH_OUTSTANDING=${BENCH_OUTSTANDING:-500}   # dnsperf -q
BENCH_SERVERS=${BENCH_SERVERS:-"geovip gdnsd knot nsd reflector"}
BENCH_MIXES=${BENCH_MIXES:-"static regional nx"}
BENCH_REGIONAL_ALL=${BENCH_REGIONAL_ALL:-0}   # 1: knot/nsd run the ECS mix too
BENCH_PROFILE=${BENCH_PROFILE:-0}        # 1: perf record geovipd, regional
BENCH_KEEP=${BENCH_KEEP:-0}              # 1: keep the temp dir
# A measurement counts as clean when at most this share is lost and at
# least this share has the expected RCODE.
MAX_LOST_PCT=2
MIN_RCODE_PCT=99

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$(cd "$here/../.." && pwd)}
top_builddir=${top_builddir:-$top_srcdir}
GEOVIPD=${GEOVIPD:-$top_builddir/src/geovipd}
REFLECTOR=${REFLECTOR:-$top_builddir/tests/bench/reflector}
GEO_DB=$top_srcdir/geo/sample.mmdb

die() { echo "bench: $*" >&2; exit 1; }

# ---- tools -----------------------------------------------------------------

# Which Debian package provides each command we run.
declare -A PKG_OF=([dnsperf]=dnsperf [knotd]=knot [nsd]=nsd [gdnsd]=gdnsd
	[dig]=dnsutils [taskset]=util-linux [ss]=iproute2 [python3]=python3)
declare -A CMD_OF=([geovip]="$GEOVIPD" [knot]=knotd [nsd]=nsd [gdnsd]=gdnsd
	[reflector]="$REFLECTOR")

# listener_pids — "PID NAME" of every process with a listening socket.
listener_pids() {
	ss -Hlunpt 2>/dev/null |
		grep -o 'users:(("[^"]*",pid=[0-9]*' |
		sed -E 's/users:\(\("([^"]*)",pid=([0-9]*)/\2 \1/' | sort -u
}

# install_missing — apt-get the packages whose commands are missing, then
# stop any DNS server the packages' maintainer scripts started (on a host
# with an init system they do; this benchmark starts its own instances).
install_missing() {
	local cmds="dnsperf dig taskset ss python3" cmd pkgs="" before after
	local s
	for s in $BENCH_SERVERS; do
		case $s in
		geovip|reflector) ;; # built here
		*) cmds="$cmds ${CMD_OF[$s]}" ;;
		esac
	done
	for cmd in $cmds; do
		command -v "$cmd" >/dev/null 2>&1 || pkgs="$pkgs ${PKG_OF[$cmd]}"
	done
	[ -z "$pkgs" ] && return 0
	[ "$(id -u)" = 0 ] ||
		die "missing packages:$pkgs — run as root or apt-get install them"
	echo "# installing:$pkgs"
	before=$(listener_pids)
	DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends $pkgs > "$TMP/apt.log" 2>&1 ||
		{ tail -20 "$TMP/apt.log" >&2; die "apt-get install failed"; }
	after=$(listener_pids)
	stop_started_by_install "$before" "$after"
}

# stop_started_by_install BEFORE AFTER — kill, by PID, the knotd/nsd/gdnsd
# processes that hold a listening socket now and did not before.
stop_started_by_install() {
	local pid name
	while read -r pid name; do
		[ -n "$pid" ] || continue
		case $name in
		knotd|nsd|gdnsd) ;;
		*) continue ;;
		esac
		echo "# the install started $name (pid $pid): stopping it"
		kill "$pid" 2>/dev/null
	done < <(comm -13 <(echo "$1") <(echo "$2"))
	echo "# listeners after install:"
	ss -Hlunpt | sed 's/^/#   /'
}

# ---- servers ---------------------------------------------------------------

declare -A PORT PID
STARTED=""

# pick_ports N — N distinct ports free for UDP and TCP on 127.0.0.1.
pick_ports() {
	python3 - "$1" <<'EOF'
import random, socket, sys
def free(port):
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(socket.AF_INET, typ)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True
want, got = int(sys.argv[1]), []
for _ in range(1000):
    p = random.randint(20000, 60000)
    if p not in got and free(p):
        got.append(p)
        if len(got) == want:
            break
print(" ".join(map(str, got)))
EOF
}

# render TEMPLATE PORT OUT — fill in @DIR@, @PORT@ and @GEO@.
render() {
	sed -e "s|@DIR@|$TMP|g" -e "s|@PORT@|$2|g" -e "s|@GEO@|$GEO_DB|g" \
		"$here/configs/$1" > "$3"
}

# start_server NAME — configure and start NAME on CPU 0, in the background.
start_server() {
	local s=$1 p=${PORT[$1]} log="$TMP/$1.log"
	case $s in
	geovip)
		render geovip.yaml.in "$p" "$TMP/geovip.yaml"
		"$GEOVIPD" -c "$TMP/geovip.yaml" --check > "$log" 2>&1 ||
			{ cat "$log" >&2; die "geovip: config refused"; }
		taskset -c "$SERVER_CPU" "$GEOVIPD" -c "$TMP/geovip.yaml" \
			>> "$log" 2>&1 &
		;;
	knot)
		mkdir -p "$TMP/knot/db"
		render knot.conf.in "$p" "$TMP/knot.conf"
		taskset -c "$SERVER_CPU" knotd -c "$TMP/knot.conf" > "$log" 2>&1 &
		;;
	nsd)
		mkdir -p "$TMP/nsd"
		render nsd.conf.in "$p" "$TMP/nsd.conf"
		# -d: foreground. The serving child inherits the CPU mask.
		taskset -c "$SERVER_CPU" nsd -d -c "$TMP/nsd.conf" > "$log" 2>&1 &
		;;
	gdnsd)
		mkdir -p "$TMP/gdnsd/conf/zones" "$TMP/gdnsd/run" "$TMP/gdnsd/state"
		render gdnsd.config.in "$p" "$TMP/gdnsd/conf/config"
		cp "$TMP/example.com.gdnsd.zone" "$TMP/gdnsd/conf/zones/example.com"
		taskset -c "$SERVER_CPU" gdnsd -c "$TMP/gdnsd/conf" start \
			> "$log" 2>&1 &
		;;
	reflector)
		taskset -c "$SERVER_CPU" "$REFLECTOR" 127.0.0.1 "$p" > "$log" 2>&1 &
		;;
	esac
	PID[$s]=$!
	STARTED="$STARTED $s"
	wait_ready "$s"
}

# wait_ready NAME — up to 10 s for an answer from NAME.
wait_ready() {
	local s=$1 i
	for ((i = 0; i < 50; i++)); do
		kill -0 "${PID[$s]}" 2>/dev/null ||
			{ cat "$TMP/$s.log" >&2; die "$s exited at start-up"; }
		[ -n "$(q "$s" h0000.example.com A +short)" ] && return 0
		sleep 0.2
	done
	cat "$TMP/$s.log" >&2
	die "$s did not answer within 10 s"
}

# stop_server NAME — SIGTERM by PID, SIGKILL after 5 s, and reap.
stop_server() {
	local pid=${PID[$1]} i
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

cleanup() {
	local s
	for s in $STARTED; do
		stop_server "$s"
	done
	if [ "$BENCH_KEEP" = 1 ]; then
		echo "# kept $TMP"
	else
		rm -rf "$TMP"
	fi
}

# q NAME DIG-ARGS... — dig at server NAME.
q() {
	local s=$1
	shift
	dig @127.0.0.1 -p "${PORT[$s]}" +time=1 +tries=1 "$@" 2>/dev/null
}

# ---- correctness before measuring -----------------------------------------

VIPS_americas="192.0.2.10"
VIPS_emea="198.51.100.10 198.51.100.11"
VIPS_apac="203.0.113.10"

expect() {
	if [ "$2" = "$3" ]; then
		return 0
	fi
	echo "bench: $1: expected [$2], got [$3]" >&2
	VERIFY_FAILED=1
}

sorted_answer() {
	q "$@" +short | sort | tr '\n' ' ' | sed 's/ $//'
}

# verify NAME — the answers every mix relies on, from this server.
verify() {
	local s=$1 net region want line n=0
	if [ "$s" = reflector ]; then
		# one answer for everything: an A record, the question echoed
		expect "$s h0017 A" 192.0.2.10 "$(sorted_answer "$s" h0017.example.com A)"
		expect "$s www A (ECS)" 192.0.2.10 \
			"$(sorted_answer "$s" +subnet=81.1.2.0/24 www.example.com A)"
		return
	fi
	expect "$s h0017 A" 192.0.2.18 "$(sorted_answer "$s" h0017.example.com A)"
	expect "$s nx00001 rcode" NXDOMAIN \
		"$(q "$s" nx00001.example.com A | sed -n 's/.*status: \([A-Z]*\),.*/\1/p')"
	case $s in
	geovip|gdnsd)
		# Every 400th ECS /24 of the regional mix, against the region
		# gen.py expects for it.
		while read -r net region; do
			n=$((n + 1))
			[ $((n % 400)) = 1 ] || continue
			want=VIPS_$region
			expect "$s www ECS $net ($region)" "${!want}" \
				"$(sorted_answer "$s" +subnet="$net" www.example.com A)"
		done < "$TMP/regional-subnets.txt"
		line=$(q "$s" +subnet=81.1.2.0/24 www.example.com A | grep 'CLIENT-SUBNET')
		case $line in
		*81.1.2.0/24/[1-9]*) ;;
		*) echo "bench: $s: no ECS scope echoed: [$line]" >&2; VERIFY_FAILED=1 ;;
		esac
		;;
	*)
		expect "$s www A (static)" 192.0.2.10 \
			"$(sorted_answer "$s" www.example.com A)"
		;;
	esac
}

# ---- measuring -------------------------------------------------------------

# mix_servers MIX — which of BENCH_SERVERS run MIX.
mix_servers() {
	local s out=""
	for s in $BENCH_SERVERS; do
		if [ "$1" = regional ] && [ "$BENCH_REGIONAL_ALL" != 1 ]; then
			case $s in geovip|gdnsd|reflector) ;; *) continue ;; esac
		fi
		# the reflector answers NOERROR to everything
		[ "$s" = reflector ] && [ "$1" = nx ] && continue
		out="$out $s"
	done
	echo $out
}

# round_order MIX ROUND — mix_servers, reversed in even rounds (A B C,
# C B A, ...): a drift of the machine over a round hits every pair of
# servers both ways.
round_order() {
	local list
	list=$(mix_servers "$1")
	if [ $(($2 % 2)) = 0 ]; then
		echo $list | tr ' ' '\n' | tac | tr '\n' ' '
	else
		echo $list
	fi
}

mix_args() {
	case $1 in
	static) echo "-d $TMP/static.txt" ;;
	regional) echo "-B -d $TMP/regional.bin" ;;
	nx) echo "-d $TMP/nx.txt" ;;
	esac
}

mix_rcode() {
	case $1 in nx) echo NXDOMAIN ;; *) echo NOERROR ;; esac
}

# tree_ticks PID — "USER SYSTEM" CPU clock ticks used so far by PID and
# every process below it (NSD serves from a child process).
tree_ticks() {
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
	{
		pid = $1; line = $0
		sub(/^[0-9]+ \(.*\) /, "", line)	# comm may hold spaces
		split(line, f, " ")
		ppid[pid] = f[2]; user[pid] = f[12]; sys[pid] = f[13]
	}
	END {
		in_tree[root] = 1
		do {
			grew = 0
			for (p in ppid)
				if (!(p in in_tree) && (ppid[p] in in_tree)) {
					in_tree[p] = 1; grew = 1
				}
		} while (grew)
		for (p in in_tree) { u += user[p]; s += sys[p] }
		print u + 0, s + 0
	}'
}

# measure MIX NAME RUN — one dnsperf run on CPU 1; output kept in out/,
# with the server's CPU time over the run.
measure() {
	local out="$TMP/out/$1.$2.$3" u0 s0 u1 s1
	read -r u0 s0 < <(tree_ticks "${PID[$2]}")
	# -t 1: a query unanswered after 1 s is lost (latencies here are
	# milliseconds), so dnsperf exits 1 s after the time limit.
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$2]}" \
		$(mix_args "$1") -c 1 -T 1 -q "$BENCH_OUTSTANDING" \
		-l "$BENCH_SECONDS" -t 1 > "$out" 2>&1
	read -r u1 s1 < <(tree_ticks "${PID[$2]}")
	echo "server CPU ticks: $((u1 - u0 + s1 - s0)) (user $((u1 - u0))) at $CLK_TCK/s" >> "$out"
	parse "$out" "$(mix_rcode "$1")" "$((u1 - u0 + s1 - s0))" "$((u1 - u0))" \
		> "$out.parsed"
}

# parse FILE RCODE TICKS USER_TICKS — "qps avg_latency_ms lost_pct
# rcode_pct server_cpu_us_per_query user_cpu_us_per_query" from dnsperf's
# output.
parse() {
	awk -v rc="$2" -v ticks="$3" -v uticks="$4" -v hz="$CLK_TCK" '
	/Queries completed:/ { done = $3 }
	/Queries per second:/ { qps = $4 }
	/Average Latency \(s\):/ { lat = $4 * 1000 }
	/Queries lost:/ { lost = $4; gsub(/[()%]/, "", lost) }
	/Response codes:/ {
		for (i = 3; i <= NF; i++)
			if ($i == rc || $i == rc ",") {
				pct = $(i + 2); gsub(/[()%,]/, "", pct)
			}
	}
	END {
		cpu = done > 0 ? ticks / hz * 1e6 / done : 0
		ucpu = done > 0 ? uticks / hz * 1e6 / done : 0
		printf "%.0f %.3f %.2f %.2f %.4f %.4f\n", qps, lat, lost, pct, cpu, ucpu
	}' "$1"
}

median() {
	tr ' ' '\n' | grep -v '^$' | sort -g |
		awk '{ v[NR] = $1 } END {
			if (NR == 0) exit;
			if (NR % 2) print v[(NR + 1) / 2];
			else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# table MIX — one line per server: every run's qps, medians, ratio.
table() {
	local mix=$1 s r qpss lats losts cpus worst_rc f clean geo_qps med_qps
	local ratio qps lat lost pct cpu ucpu ucpus
	printf '\n### mix: %s (%s)\n\n' "$mix" "$(mix_desc "$mix")"
	printf '| server | qps, each run | median qps | qps / geovip | server CPU µs/query (median) | of it user | avg latency ms (median) | lost %% (max) | %s %% (min) |\n' \
		"$(mix_rcode "$mix")"
	printf '|---|---|---|---|---|---|---|---|---|\n'
	geo_qps=$(cat "$TMP"/out/"$mix".geovip.*.parsed 2>/dev/null |
		awk '{print $1}' | median)
	for s in $(mix_servers "$mix"); do
		qpss="" lats="" losts="" cpus="" ucpus="" worst_rc=100 clean=""
		for ((r = 1; r <= BENCH_RUNS; r++)); do
			f="$TMP/out/$mix.$s.$r.parsed"
			read -r qps lat lost pct cpu ucpu < "$f"
			qpss="$qpss $qps" lats="$lats $lat" losts="$losts $lost"
			cpus="$cpus $cpu" ucpus="$ucpus $ucpu"
			worst_rc=$(echo "$worst_rc $pct" | tr ' ' '\n' | sort -g | head -1)
			if awk -v l="$lost" -v p="$pct" -v ml="$MAX_LOST_PCT" \
				-v mp="$MIN_RCODE_PCT" 'BEGIN { exit !(l > ml || p < mp) }'; then
				clean=" (!)"
				DIRTY=1
			fi
		done
		med_qps=$(echo $qpss | median)
		if [ -n "$geo_qps" ] && [ "$geo_qps" != 0 ] && [ "$geo_qps" != 0.000 ]; then
			ratio=$(awk -v a="$med_qps" -v b="$geo_qps" 'BEGIN { printf "%.2f", a / b }')
		else
			ratio=-
		fi
		printf '| %s | %s | %.0f | %s | %s | %s | %s | %s | %s |\n' "$s$clean" \
			"$(echo $qpss | sed 's/ / \/ /g')" "$med_qps" "$ratio" \
			"$(echo $cpus | median)" "$(echo $ucpus | median)" \
			"$(echo $lats | median)" \
			"$(echo $losts | tr ' ' '\n' | sort -g | tail -1)" \
			"$worst_rc"
	done
}

mix_desc() {
	case $1 in
	static) echo "A for 1000 ordinary names, no EDNS" ;;
	regional) echo "A www.example.com, EDNS + ECS from $(wc -l < "$TMP/regional-subnets.txt") distinct /24s" ;;
	nx) echo "A for 20000 names that do not exist" ;;
	esac
}

# raw MIX — the dnsperf summary lines of every run.
raw() {
	local f
	for f in "$TMP"/out/"$1".*.[0-9]; do
		echo "## $(basename "$f")"
		grep -E 'Queries (sent|completed|lost|per second)|Response codes|Average Latency|server CPU' "$f"
	done
}

# paired — per mix, geovip's server CPU per answered query divided by the
# reflector's and by gdnsd's, round by round (the two runs of a round
# minutes apart at most), and the median of those ratios.
paired() {
	local mix other r a b ratios line
	printf '\n### paired: geovip CPU µs per answer / the other server, per round\n\n'
	printf '| mix | against | each round | median | range |\n|---|---|---|---|---|\n'
	for mix in $BENCH_MIXES; do
		for other in reflector gdnsd; do
			case " $(mix_servers "$mix") " in
			*" geovip "*) ;;
			*) continue ;;
			esac
			case " $(mix_servers "$mix") " in
			*" $other "*) ;;
			*) continue ;;
			esac
			ratios=""
			for ((r = 1; r <= BENCH_RUNS; r++)); do
				a=$(awk '{ print $5 }' "$TMP/out/$mix.geovip.$r.parsed")
				b=$(awk '{ print $5 }' "$TMP/out/$mix.$other.$r.parsed")
				ratios="$ratios $(awk -v a="$a" -v b="$b" 'BEGIN {
					printf "%.3f", (b > 0 ? a / b : 0) }')"
			done
			line=$(echo $ratios | tr ' ' '\n' | sort -g |
				awk '{ v[NR] = $1 } END { printf "%s–%s", v[1], v[NR] }')
			printf '| %s | %s | %s | %.3f | %s |\n' "$mix" "$other" \
				"$(echo $ratios | sed 's/ / \/ /g')" \
				"$(echo $ratios | median)" "$line"
		done
	done
	echo
	echo "Ratios below 1: geovip spent less CPU per answered query than the other server."
}

# tree_pids PID — PID and its descendants, comma-separated (for perf -p).
tree_pids() {
	local out=$1 p kids
	for p in $(ps -o pid= --ppid "$1"); do
		out="$out,$(tree_pids "$p")"
	done
	echo "$out"
}

# profile — perf record geovipd during one more regional run, then count
# the system calls per answered query of every server (static mix).
profile() {
	local pid=${PID[geovip]} s n qps perf_pid
	command -v perf >/dev/null || { echo "# perf not installed"; return; }
	echo
	echo "### perf: geovipd, regional mix, $BENCH_SECONDS s"
	perf record -q -g -p "$pid" -o "$TMP/perf.data" -- sleep "$BENCH_SECONDS" \
		> "$TMP/perf.log" 2>&1 &
	perf_pid=$!
	taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[geovip]}" \
		$(mix_args regional) -c 1 -T 1 -q "$BENCH_OUTSTANDING" \
		-l "$BENCH_SECONDS" -t 1 > "$TMP/out/profile" 2>&1
	wait "$perf_pid"
	perf report -i "$TMP/perf.data" --stdio --no-children --sort dso \
		-g none 2>/dev/null | grep -v '^#' | grep -v '^$' |
		sed -E 's/[[:space:]]+$//' | head -4
	perf report -i "$TMP/perf.data" --stdio --no-children --sort dso,symbol \
		--percent-limit 0.8 -g none 2>/dev/null | grep -v '^#' |
		grep -v '^$' | sed -E 's/[[:space:]-]+$//' | head -30
	echo
	echo "### system calls per answered query, static mix (perf stat, 2 s mid-run)"
	for s in $BENCH_SERVERS; do
		taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "${PORT[$s]}" \
			$(mix_args static) -c 1 -T 1 -q "$BENCH_OUTSTANDING" \
			-l 4 -t 1 > "$TMP/out/syscalls.$s" 2>&1 &
		sleep 1
		n=$(perf stat -x, -e raw_syscalls:sys_enter \
			-p "$(tree_pids "${PID[$s]}")" -- sleep 2 2>&1 |
			awk -F, '/raw_syscalls/ { print $1 }')
		wait $!
		qps=$(awk '/Queries per second:/ { print $4 }' "$TMP/out/syscalls.$s")
		awk -v s="$s" -v n="$n" -v q="$qps" 'BEGIN {
			if (n + 0 > 0 && q + 0 > 0)
				printf "%-7s %.2f syscalls/query at %.0f qps\n", s, n / (2 * q), q
			else
				printf "%-7s (perf stat could not count system calls)\n", s }'
	done
}

# ---- main ------------------------------------------------------------------

CLK_TCK=$(getconf CLK_TCK)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/geovip-bench.XXXXXX") || die "mktemp failed"
trap cleanup EXIT
trap 'exit 130' INT TERM

[ -x "$GEOVIPD" ] || die "$GEOVIPD not built (run make first)"
case " $BENCH_SERVERS " in
*" reflector "*) [ -x "$REFLECTOR" ] ||
	die "$REFLECTOR not built (make tests/bench/reflector)" ;;
esac
install_missing

if [ "$(nproc)" -ge 2 ]; then
	SERVER_CPU=0 CLIENT_CPU=1
else
	echo "# WARNING: one CPU: server and dnsperf share it; numbers mean little"
	SERVER_CPU=0 CLIENT_CPU=0
fi

python3 "$here/gen.py" "$TMP" | sed 's/^/# /' || die "gen.py failed"
mkdir -p "$TMP/out"

nservers=$(echo $BENCH_SERVERS | wc -w)
read -r -a ports <<< "$(pick_ports "$nservers")"
[ "${#ports[@]}" = "$nservers" ] || die "no free ports"
i=0
for s in $BENCH_SERVERS; do
	[ -n "${CMD_OF[$s]:-}" ] ||
		die "unknown server $s (geovip gdnsd knot nsd reflector)"
	PORT[$s]=${ports[$i]}
	i=$((i + 1))
done

echo "# date:     $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "# cpu:      $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) online; kernel $(uname -r)"
echo "# versions: $("$GEOVIPD" --version | head -1) ($(git -C "$top_srcdir" rev-parse --short HEAD 2>/dev/null || echo '?')); dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null);" \
	"knot $(dpkg-query -W -f '${Version}' knot 2>/dev/null); nsd $(dpkg-query -W -f '${Version}' nsd 2>/dev/null);" \
	"gdnsd $(dpkg-query -W -f '${Version}' gdnsd 2>/dev/null)"
echo "# pinning:  servers 1 worker on CPU $SERVER_CPU; dnsperf -c 1 -T 1 -q $BENCH_OUTSTANDING -l $BENCH_SECONDS -t 1 on CPU $CLIENT_CPU"
echo "# rounds:   $BENCH_RUNS of $BENCH_SECONDS s per server and mix, servers alternated within each round (order reversed every other round)"
echo "# load:     $(cut -d' ' -f1-3 /proc/loadavg) at start (1-min load above 0.5: something else runs; expect noise)"

VERIFY_FAILED=0
for s in $BENCH_SERVERS; do
	start_server "$s"
	verify "$s"
	echo "# $s: pid ${PID[$s]}, port ${PORT[$s]}, answers verified"
done
[ "$VERIFY_FAILED" = 0 ] || die "wrong answers: not measuring"

# ECS scopes against gdnsd on the same database and map (issue 8): never
# narrower, never untruthful.
SCOPES_FAILED=0
if [ -n "${PID[geovip]:-}" ] && [ -n "${PID[gdnsd]:-}" ]; then
	python3 "$here/scopes.py" "${PORT[geovip]}" "${PORT[gdnsd]}" | sed 's/^/# /'
	[ "${PIPESTATUS[0]}" = 0 ] || SCOPES_FAILED=1
fi

DIRTY=0
for mix in $BENCH_MIXES; do
	for ((r = 1; r <= BENCH_RUNS; r++)); do
		for s in $(round_order "$mix" "$r"); do
			kill -0 "${PID[$s]}" 2>/dev/null || die "$s died (see $TMP/$s.log)"
			measure "$mix" "$s" "$r"
			echo "# $mix round $r $s: $(cat "$TMP/out/$mix.$s.$r.parsed")"
		done
	done
done

for mix in $BENCH_MIXES; do
	table "$mix"
done
paired
echo
echo "qps / geovip: the server's median qps divided by geovip's (above 1: faster than geovip)."
echo "server CPU µs/query: user+system CPU of the server's processes during the run, per answered query"
echo "(lower is better; unlike qps it does not depend on dnsperf keeping up)."
echo "(!) marks a server with a run that lost over $MAX_LOST_PCT% or had under $MIN_RCODE_PCT% of the expected RCODE."
echo
echo "### raw dnsperf output"
for mix in $BENCH_MIXES; do
	raw "$mix"
done

[ "$BENCH_PROFILE" = 1 ] && [ -n "${PID[geovip]:-}" ] && profile

echo "# load:     $(cut -d' ' -f1-3 /proc/loadavg) at end"
[ "$SCOPES_FAILED" = 0 ] || die "geovip's ECS scopes: narrower than gdnsd's or untruthful (see # scopes above)"
[ "$DIRTY" = 0 ] || die "some measurements were not clean (see (!) above)"
exit 0
