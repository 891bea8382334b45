# tests/integration/lib.sh — shared helpers for the integration scripts:
# a free port picked at run time, a private test zone and config in a temp
# directory, starting geovipd and waiting (bounded) for its ready line,
# stopping it, and ok/FAIL bookkeeping. Sourced, not run.
#
# Environment (set by `make check`): GEOVIPD, top_srcdir, top_builddir.
# Optional: GEOVIPD_WRAPPER, a command put before the daemon by
# start_server (e.g. "valgrind -q --error-exitcode=99 --leak-check=full
# --errors-for-leak-kinds=definite --log-file=/tmp/vg.%p"); it must exec the
# daemon in the same process (valgrind does), so $! is still the daemon's
# PID. With it, the start/stop waits are 10x longer and stop_server fails
# the test when the daemon exits non-zero (a memory error or a leak).

set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${GEOVIPD:=$top_builddir/src/geovipd}"

GEO_DB="$top_srcdir/geo/sample.mmdb"
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/geovip-test.XXXXXX")
TEST_FAILS=0
SERVER_PID=
SERVER_LOG="$TEST_TMP/server.log"
PORT=
HAVE_V6=no
GEOVIPD_WRAPPER=${GEOVIPD_WRAPPER:-}
# Bounded waits for the daemon are multiplied by this (valgrind is slow).
WAIT_SCALE=1
[ -n "$GEOVIPD_WRAPPER" ] && WAIT_SCALE=10
# A token only our test zone carries: an answer with it came from our server.
TOKEN="geovip-$$-$RANDOM$RANDOM"
ZONE=geovip.test
ZONE_FILE="$TEST_TMP/geovip.test.zone"
CONF="$TEST_TMP/geovip.yaml"

lib_cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -KILL "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
	fi
	rm -rf "$TEST_TMP"
}
trap lib_cleanup EXIT

ok() { echo "ok - $*"; }
fail() {
	echo "FAIL - $*"
	TEST_FAILS=$((TEST_FAILS + 1))
}

# check NAME EXPECTED ACTUAL
check() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

# check_grep NAME PATTERN TEXT   (extended regex)
check_grep() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		ok "$1"
	else
		fail "$1: no match for '$2' in:"
		printf '%s\n' "$3" | sed 's/^/    /' | head -40
	fi
}

# check_nogrep NAME PATTERN TEXT
check_nogrep() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		fail "$1: unexpected match for '$2' in:"
		printf '%s\n' "$3" | sed 's/^/    /' | head -40
	else
		ok "$1"
	fi
}

finish() {
	if [ "$TEST_FAILS" -ne 0 ]; then
		echo "$TEST_FAILS failure(s)"
		[ -f "$SERVER_LOG" ] && { echo "--- server log"; tail -40 "$SERVER_LOG"; }
		exit 1
	fi
	exit 0
}

# Skip (exit 77, automake's SKIP) when a tool is missing.
require() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t not found"; exit 77; }
	done
	[ -x "$GEOVIPD" ] || { echo "FAIL - $GEOVIPD not built"; exit 1; }
	[ -f "$GEO_DB" ] || { echo "FAIL - $GEO_DB missing"; exit 1; }
}

# Prints a port free for UDP and TCP on 127.0.0.1 (and ::1 when the host
# has it), from a random range; sets HAVE_V6. Bounded: 200 tries.
pick_port() {
	local out
	out=$(python3 - <<'EOF'
import random, socket
def free(fam, host, port):
    for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        s = socket.socket(fam, typ)
        try:
            if fam == socket.AF_INET6:
                s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            s.bind((host, port))
        except OSError:
            return False
        finally:
            s.close()
    return True
v6 = free(socket.AF_INET6, "::1", 0)
for _ in range(200):
    p = random.randint(20000, 60000)
    if free(socket.AF_INET, "127.0.0.1", p) and (not v6 or free(socket.AF_INET6, "::1", p)):
        print(p, "yes" if v6 else "no")
        break
EOF
	)
	[ -n "$out" ] || { echo "FAIL - no free port found"; exit 1; }
	PORT=${out% *}
	HAVE_V6=${out#* }
}

# write_zone SERIAL — the test zone: regional names, a token TXT, a name
# with no A, a wildcard, a delegation and an RRset too big for UDP.
write_zone() {
	{
		cat <<EOF
\$ORIGIN $ZONE.
\$TTL 300
@       IN SOA ns1 hostmaster $1 3600 600 86400 60
@       IN NS  ns1
@       IN MX  10 mail
@       IN TXT "apex"
ns1     IN A   192.0.2.53
mail    IN A   192.0.2.25
token   IN TXT "$TOKEN"
sub     IN NS  ns.sub
ns.sub  IN A   192.0.2.54
EOF
		for i in $(seq 1 40); do
			printf 'big     IN TXT "record %02d padding padding padding padding padding"\n' "$i"
		done
	} > "$ZONE_FILE"
}

# fixture_block NAME — the lines between "# --- begin NAME" and
# "# --- end NAME" of tests/fixtures/query/geovip.yaml: the one definition
# of the test regions ("regions": regions and default_region) and of the
# overrides ("overrides"), shared with the unit tests.
fixture_block() {
	local f="$top_srcdir/tests/fixtures/query/geovip.yaml" out
	out=$(sed -n "/^# --- begin $1\$/,/^# --- end $1\$/p" "$f" | sed '1d;$d')
	[ -n "$out" ] || { echo "FAIL - no block '$1' in $f"; exit 1; }
	printf '%s\n' "$out"
}

# write_config [EXTRA_YAML_LINE...] — a config serving the test zone on
# $PORT (127.0.0.1, and ::1 when present), with absolute paths: the shared
# regions, and only two overrides (10/8 → emea, AU → apac), so that every
# continent maps to its region in serve_basic.sh.
write_config() {
	{
		echo "listen:"
		echo "  - 127.0.0.1:$PORT"
		[ "$HAVE_V6" = yes ] && echo "  - \"[::1]:$PORT\""
		cat <<EOF
geoip: $GEO_DB
workers: 2
$(fixture_block regions)
overrides:
  networks:
    "10.0.0.0/8": emea
  countries:
    AU: apac
zones:
  - origin: $ZONE.
    file: $ZONE_FILE
    ttl: 30
    regional: ["@", www, api, "*.edge"]
EOF
		for line in "$@"; do
			echo "$line"
		done
	} > "$CONF"
}

# setup [EXTRA_YAML_LINE...] — port, zone and config in one go.
setup() {
	pick_port
	write_zone 2024010101
	write_config "$@"
}

# start_server [CONF] — starts geovipd (behind $GEOVIPD_WRAPPER if set) in
# the background and waits up to 10 s (x WAIT_SCALE) for its ready line;
# then checks that the token answer comes from us.
start_server() {
	local conf=${1:-$CONF} i
	: > "$SERVER_LOG"
	# the wrapper is split into words on purpose
	$GEOVIPD_WRAPPER "$GEOVIPD" -c "$conf" 2>>"$SERVER_LOG" &
	SERVER_PID=$!
	for i in $(seq 1 $((100 * WAIT_SCALE))); do
		grep -q "geovipd: serving on" "$SERVER_LOG" && break
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			wait "$SERVER_PID" 2>/dev/null
			SERVER_PID=
			echo "FAIL - geovipd exited at start-up:"
			sed 's/^/    /' "$SERVER_LOG"
			exit 1
		fi
		sleep 0.1
	done
	if ! grep -q "geovipd: serving on" "$SERVER_LOG"; then
		echo "FAIL - geovipd not ready after $((10 * WAIT_SCALE)) s"
		sed 's/^/    /' "$SERVER_LOG"
		exit 1
	fi
	local got
	got=$(dig_short token.$ZONE TXT | tr -d '"')
	if [ "$got" != "$TOKEN" ]; then
		echo "FAIL - port $PORT answered by someone else ('$got')"
		exit 1
	fi
}

# stop_server [SIGNAL] — signals the server, waits up to 5 s (x WAIT_SCALE);
# sets SERVER_STATUS to its exit status (or "hung"). Under GEOVIPD_WRAPPER a
# status other than 0 is a failure, shown with the wrapper's log.
stop_server() {
	local sig=${1:-TERM} i pid=$SERVER_PID
	SERVER_STATUS=none
	[ -n "$SERVER_PID" ] || return 0
	kill -"$sig" "$SERVER_PID" 2>/dev/null
	for i in $(seq 1 $((50 * WAIT_SCALE))); do
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.1
	done
	local hung=no status
	if kill -0 "$SERVER_PID" 2>/dev/null; then
		hung=yes
		kill -KILL "$SERVER_PID" 2>/dev/null
	fi
	wait "$SERVER_PID" 2>/dev/null
	status=$?
	SERVER_STATUS=$status
	[ "$hung" = no ] || SERVER_STATUS=hung
	SERVER_PID=
	[ -n "$GEOVIPD_WRAPPER" ] && [ "$SERVER_STATUS" != 0 ] &&
		lib_wrapper_failed "$pid"
	return 0
}

# lib_wrapper_failed PID — the daemon under GEOVIPD_WRAPPER did not exit 0:
# a failure, with the wrapper's --log-file (%p = PID) or the server log.
lib_wrapper_failed() {
	local log
	log=$(printf '%s\n' "$GEOVIPD_WRAPPER" |
		sed -n 's/.*--log-file=\([^ ]*\).*/\1/p')
	log=${log//%p/$1}
	fail "geovipd under '$GEOVIPD_WRAPPER' exited with status $SERVER_STATUS"
	if [ -n "$log" ] && [ -f "$log" ]; then
		sed 's/^/    /' "$log" | head -80
	else
		tail -40 "$SERVER_LOG" | sed 's/^/    /'
	fi
}

# dig_full [DIG_ARGS...] NAME TYPE — the whole dig output, one try.
dig_full() {
	dig @127.0.0.1 -p "$PORT" +tries=1 +time=2 "$@" 2>&1
}

# dig_short [DIG_ARGS...] NAME TYPE — the answer's rdata, sorted, one line.
dig_short() {
	dig @127.0.0.1 -p "$PORT" +tries=1 +time=2 +short "$@" 2>&1 |
		sort | tr '\n' ' ' | sed 's/ $//'
}

# status OUTPUT — the rcode of a dig output.
status() {
	printf '%s\n' "$1" | sed -n 's/.*status: \([A-Z]*\),.*/\1/p' | head -1
}

# flags OUTPUT — the header flags of a dig output ("qr aa rd").
flags() {
	printf '%s\n' "$1" | sed -n 's/.*flags: \([a-z ]*\);.*/\1/p' | head -1
}

# count SECTION OUTPUT — ANSWER / AUTHORITY / ADDITIONAL count.
count() {
	printf '%s\n' "$2" | sed -n "s/.*$1: \([0-9]*\).*/\1/p" | head -1
}
