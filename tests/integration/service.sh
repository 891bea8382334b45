#!/bin/bash
# tests/integration/service.sh — geovipd as a service: sd_notify READY /
# RELOADING / READY / STOPPING to a test-owned $NOTIFY_SOCKET (path and
# abstract), journald "<N>" priority prefixes when $JOURNAL_STREAM names
# stderr, log_level and -v filtering, every reload error logged, and the
# pidfile written at start and removed at exit.
. "$(dirname "$0")/lib.sh"
require dig python3

NOTIFY_LOG="$TEST_TMP/notify.log"
LISTENER_PID=

# listen_notify ADDR — a unix datagram socket at ADDR ('@' = abstract)
# appending each datagram (newlines as '|') to $NOTIFY_LOG.
listen_notify() {
	: > "$NOTIFY_LOG"
	python3 - "$1" "$NOTIFY_LOG" <<'PY' &
import socket, sys
addr, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("\0" + addr[1:] if addr.startswith("@") else addr)
open(out + ".ready", "w").close()
s.settimeout(60)
while True:
    try:
        msg = s.recv(4096).decode()
    except socket.timeout:
        break
    with open(out, "a") as f:
        f.write(msg.replace("\n", "|") + "\n")
PY
	LISTENER_PID=$!
	for i in $(seq 1 50); do
		[ -e "$NOTIFY_LOG.ready" ] && break
		sleep 0.1
	done
	rm -f "$NOTIFY_LOG.ready"
}

stop_listener() {
	[ -n "$LISTENER_PID" ] && kill "$LISTENER_PID" 2>/dev/null
	wait "$LISTENER_PID" 2>/dev/null
	LISTENER_PID=
}

# wait_for FILE PATTERN — up to 10 s (x WAIT_SCALE) for PATTERN in FILE.
wait_for() {
	for i in $(seq 1 $((100 * WAIT_SCALE))); do
		grep -Eq -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# start_with ENV... -- ARGS... — start_server with environment and flags.
start_with() {
	local envs=()
	while [ "$1" != -- ]; do envs+=("$1"); shift; done
	shift
	: > "$SERVER_LOG"
	env "${envs[@]}" $GEOVIPD_WRAPPER "$GEOVIPD" -c "$CONF" "$@" \
		2>>"$SERVER_LOG" &
	SERVER_PID=$!
	if ! wait_for "$SERVER_LOG" "geovipd: serving on"; then
		echo "FAIL - geovipd did not start:"
		sed 's/^/    /' "$SERVER_LOG"
		exit 1
	fi
}

# --- sd_notify on a path socket: READY, RELOADING/READY on SIGHUP, STOPPING
setup "pidfile: $TEST_TMP/run/geovipd.pid"
mkdir -p "$TEST_TMP/run"
listen_notify "$TEST_TMP/notify.sock"
start_with NOTIFY_SOCKET="$TEST_TMP/notify.sock" --
wait_for "$NOTIFY_LOG" "READY=1"
check_grep "notify: READY=1 with a STATUS after start" \
	"^READY=1\|STATUS=serving generation 1" "$(cat "$NOTIFY_LOG")"
check "pidfile: holds the daemon's pid" "$SERVER_PID" \
	"$(cat "$TEST_TMP/run/geovipd.pid" 2>/dev/null)"
kill -HUP "$SERVER_PID"
wait_for "$NOTIFY_LOG" "generation 2"
check_grep "notify: RELOADING=1 with MONOTONIC_USEC on SIGHUP" \
	"^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|" "$(cat "$NOTIFY_LOG")"
check_grep "notify: READY=1 after the reload" \
	"^READY=1\|STATUS=serving generation 2" "$(cat "$NOTIFY_LOG")"
check "notify: the order is READY, RELOADING, READY" "READY RELOADING READY" \
	"$(sed 's/=.*//' "$NOTIFY_LOG" | tr '\n' ' ' | sed 's/ $//')"
# a failed reload: READY again (the old generation serves), every error logged
printf 'zones: [\n' >> "$CONF"
kill -HUP "$SERVER_PID"
wait_for "$SERVER_LOG" "reload failed"
wait_for "$NOTIFY_LOG" "RELOADING.*" && sleep 0.2
check "notify: READY after a failed reload too" 3 \
	"$(grep -c '^READY=1' "$NOTIFY_LOG")"
stop_server TERM
wait_for "$NOTIFY_LOG" "STOPPING=1"
check_grep "notify: STOPPING=1 on SIGTERM" "^STOPPING=1" "$(cat "$NOTIFY_LOG")"
check "SIGTERM: exit 0" 0 "$SERVER_STATUS"
check "pidfile: removed at exit" no \
	"$([ -e "$TEST_TMP/run/geovipd.pid" ] && echo yes || echo no)"
stop_listener

# --- abstract socket ('@name'), as systemd may pass
abstract="@geovip-test-$$-$RANDOM"
write_config
listen_notify "$abstract"
start_with NOTIFY_SOCKET="$abstract" --
wait_for "$NOTIFY_LOG" "READY=1"
check_grep "notify: READY=1 on an abstract socket" "^READY=1" "$(cat "$NOTIFY_LOG")"
stop_server TERM
stop_listener

# --- journald priorities: stderr is the file named by JOURNAL_STREAM
write_config "log_level: notice"
: > "$SERVER_LOG"
js=$(stat -c '%d:%i' "$SERVER_LOG")
start_with JOURNAL_STREAM="$js" --
check_nogrep "journal: info lines dropped at log_level notice" \
	"loaded generation" "$(cat "$SERVER_LOG")"
cp "$CONF" "$TEST_TMP/good.yaml"
printf 'no_such_key: 1\nworkers: many\n' >> "$CONF"
kill -HUP "$SERVER_PID"
wait_for "$SERVER_LOG" "reload failed"
log=$(cat "$SERVER_LOG")
check_grep "journal: a reload error is <3> with file and line" \
	"^<3>$CONF:[0-9]+: .*no_such_key" "$log"
check_grep "journal: every reload error is logged" \
	"^<3>$CONF:[0-9]+: .*workers" "$log"
check_grep "journal: reload failed is <3>" "^<3>reload failed, keeping generation" "$log"
check_nogrep "journal: no timestamps (journald adds them)" \
	"^<[0-9]>[0-9]{4}-" "$log"
stop_server TERM
check_nogrep "journal: SIGTERM info line dropped at notice" "stopping" \
	"$(cat "$SERVER_LOG")"

# start-up errors carry <3> too (the config is not loaded yet)
out=$(JOURNAL_STREAM="$js" "$GEOVIPD" -c "$CONF" 2>>"$SERVER_LOG"; echo "rc=$?")
check "journal: a start-up config error exits 1" "rc=1" "$out"
check_grep "journal: a start-up config error is <3> with file and line" \
	"^<3>$CONF:[0-9]+: .*no_such_key" "$(cat "$SERVER_LOG")"

# -v raises the level by one: notice → info
cp "$TEST_TMP/good.yaml" "$CONF"
start_with JOURNAL_STREAM="$js" -- -v
check_grep "journal -v: info lines are <6>" "^<6>.*loaded generation" \
	"$(cat "$SERVER_LOG")"
stop_server TERM
# JOURNAL_STREAM naming another stream: plain lines
start_with JOURNAL_STREAM="1:1" -- -v
check_grep "JOURNAL_STREAM of another stream: plain lines" \
	"geovipd\[[0-9]+\] info: loaded generation" "$(cat "$SERVER_LOG")"
stop_server TERM

# --- log: syslog: nothing but the ready line on stderr
write_config "log: syslog"
start_with --
sleep 0.2
check_nogrep "log: syslog: no log lines on stderr" "info: " "$(cat "$SERVER_LOG")"
stop_server TERM
check "log: syslog: exit 0" 0 "$SERVER_STATUS"

# --- pidfile errors: start-up refused, file and line named
write_config "pidfile: $TEST_TMP/no-such-dir/geovipd.pid"
line=$(wc -l < "$CONF")
out=$("$GEOVIPD" -c "$CONF" 2>&1); rc=$?
check "pidfile in a missing directory: exit 1" 1 "$rc"
check_grep "pidfile error names file, line and path" \
	"$CONF:$line: pidfile '$TEST_TMP/no-such-dir/geovipd.pid': cannot write it: No such file" "$out"
ln -s "$TEST_TMP/elsewhere" "$TEST_TMP/link.pid"
write_config "pidfile: $TEST_TMP/link.pid"
out=$("$GEOVIPD" -c "$CONF" 2>&1); rc=$?
check "pidfile that is a symlink: exit 1" 1 "$rc"
check_grep "pidfile symlink: says so" "is a symbolic link" "$out"
check "pidfile symlink: target not created" no \
	"$([ -e "$TEST_TMP/elsewhere" ] && echo yes || echo no)"
finish
