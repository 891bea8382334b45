#!/bin/bash
# tests/integration/fd_limit.sh — geovipd out of file descriptors: started
# with `ulimit -n 64` and sent more TCP connections than fit, it must not
# crash or spin (CPU over 2 s from /proc/PID/stat), must keep answering
# UDP, and must serve TCP again once the connections close.
. "$(dirname "$0")/lib.sh"
require dig python3

if [ -n "${GEOVIPD_WRAPPER:-}" ]; then
	# valgrind and friends hold descriptors of their own.
	echo "skip - descriptor limits are not meaningful under GEOVIPD_WRAPPER"
	exit 77
fi
LIMIT=64
CONNS=150

# The daemon's soft limit is raised to the hard one at start-up, so the
# wrapper lowers both; exec keeps the PID that start_server waits on.
cat > "$TEST_TMP/limited" <<EOF
#!/bin/sh
ulimit -n $LIMIT || exit 1
exec "$GEOVIPD" "\$@"
EOF
chmod 755 "$TEST_TMP/limited"

# flood.py PORT PID — prints "ok ..."/"FAIL ..." lines.
cat > "$TEST_TMP/flood.py" <<'EOF'
import os, socket, struct, sys, time

ZONE = "geovip.test"
port, pid, limit, nconn = (int(a) for a in sys.argv[1:5])

def query(qid, name):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"

def answered(msg, qid):
    return (msg is not None and len(msg) >= 12 and
            struct.unpack(">H", msg[:2])[0] == qid and msg[3] & 0x0f == 0)

def report(cond, what):
    print(("ok - " if cond else "FAIL - ") + what, flush=True)

def udp_ok(qid):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    try:
        s.sendto(query(qid, "www." + ZONE), ("127.0.0.1", port))
        return answered(s.recvfrom(4096)[0], qid)
    except OSError:
        return False
    finally:
        s.close()

def tcp_ok(qid):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=1)
        s.sendall(struct.pack(">H", 33) + query(qid, "www." + ZONE))
        f = s.makefile("rb")
        head = f.read(2)
        m = f.read(struct.unpack(">H", head)[0]) if len(head) == 2 else None
        s.close()
        return answered(m, qid)
    except OSError:
        return False

def cpu_ticks():
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])   # utime + stime

def fds():
    return len(os.listdir("/proc/%d/fd" % pid))

report(tcp_ok(1), "TCP served before the flood")
conns = []
for _ in range(nconn):          # the kernel queues what the server cannot accept
    try:
        conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
    except OSError:
        break
report(len(conns) == nconn, "%d connections opened" % len(conns))
time.sleep(0.5)
n = fds()
report(n >= limit - 2, "server out of descriptors: %d open, limit %d" % (n, limit))
hz = os.sysconf("SC_CLK_TCK")
t0, c0 = time.monotonic(), cpu_ticks()
time.sleep(2)
share = (cpu_ticks() - c0) / hz / (time.monotonic() - t0)
report(share < 0.2, "no busy loop at EMFILE: %.1f%% CPU over 2 s" % (100 * share))
report(all(udp_ok(10 + i) for i in range(5)), "UDP answered while out of descriptors")
for s in conns:
    s.close()
start, good = time.monotonic(), False
while time.monotonic() - start < 5 and not good:
    good = tcp_ok(2)
    if not good:
        time.sleep(0.1)
report(good, "TCP served again once the connections closed (%.2f s)" % (time.monotonic() - start))
report(all(tcp_ok(20 + i) for i in range(5)), "5 more TCP connections served")
EOF

setup "tcp_idle_timeout: 30"
GEOVIPD="$TEST_TMP/limited" start_server
pid=$SERVER_PID
check "descriptor limit applied" "$LIMIT" \
	"$(sed -n 's/^Max open files *\([0-9]*\).*/\1/p' /proc/"$pid"/limits)"

python3 "$TEST_TMP/flood.py" "$PORT" "$pid" "$LIMIT" "$CONNS" > "$TEST_TMP/out" 2>&1
rc=$?
cat "$TEST_TMP/out"
if [ "$rc" -ne 0 ] || grep -q '^FAIL' "$TEST_TMP/out"; then
	TEST_FAILS=$((TEST_FAILS + 1))
fi

if kill -0 "$pid" 2>/dev/null; then ok "server alive"; else fail "server died"; fi
log=$(cat "$SERVER_LOG")
check_grep "accept failure logged" "tcp accept failed: Too many open files" "$log"
n=$(grep -c "tcp accept failed" "$SERVER_LOG")
check "accept failures logged at most once per 10 s" 1 "$n"
check "dig over UDP" "192.0.2.10" "$(dig_short www.$ZONE A)"
stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
