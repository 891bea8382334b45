#!/bin/bash
# tests/integration/reload_oom.sh — a reload that runs out of memory (as
# under systemd's MemoryMax; here an address-space limit put on the running
# daemon with prlimit) is reported as "FILE:LINE: out of memory", the old
# set keeps serving and the daemon lives. It once called abort(): exit 134
# and no log line.
. "$(dirname "$0")/lib-extra.sh"
require dig python3 prlimit
# valgrind and ASan reserve address space of their own: the limit below
# would measure them, not geovipd
if [ -n "$GEOVIPD_WRAPPER" ]; then
	echo "SKIP: an address-space limit is not meaningful under GEOVIPD_WRAPPER"
	exit 77
fi
if grep -q __asan_init "$GEOVIPD" 2>/dev/null; then
	echo "SKIP: an address-space limit is not meaningful in an ASan build"
	exit 77
fi

pick_port
write_zone 2024010101
write_geo_config "$CONF"
start_server
W=www.$ZONE
check "before: regional answer" "192.0.2.10" "$(dig_short $W A)"

# A second zone with 200,000 regional names: the YAML document (~30 MB)
# fits in 46 MB more than the daemon has now, the table the names go in
# (~56 MB) does not.
{
	echo "  - origin: oom.test."
	echo "    file: $ZONE_FILE"
	echo "    regional:"
	awk 'BEGIN { for (i = 0; i < 200000; i++) printf "      - n%d\n", i }'
} >> "$CONF"
vm_kb=$(awk '/^VmSize:/ { print $2 }' "/proc/$SERVER_PID/status")
prlimit --pid "$SERVER_PID" --as=$(((vm_kb + 46000) * 1024)) ||
	fail "prlimit on the daemon"
kill -HUP "$SERVER_PID"
if wait_log "reload failed, keeping generation 1" 1 10; then
	ok "reload refused"
else
	fail "no 'reload failed' line within 10 s"
fi
kill -0 "$SERVER_PID" 2>/dev/null || fail "server died (it once aborted here)"
check_grep "out of memory named with FILE:LINE" \
	"error: $CONF:[0-9]+: out of memory" "$(cat "$SERVER_LOG")"
check "old set still answers" "192.0.2.10" "$(dig_short $W A)"
stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
