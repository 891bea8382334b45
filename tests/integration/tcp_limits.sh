#!/bin/bash
# tests/integration/tcp_limits.sh — geovipd under TCP load: 1000 idle
# connections do not stop UDP or a new TCP client and are closed after
# tcp_idle_timeout; a stalled length prefix is dropped, and so is a client
# trickling one byte at a time (message deadline); a busy connection ends
# at its lifetime (12 idle timeouts); a connection is
# closed after exactly 10000 messages; a client that never reads its
# answers does not hold up others and is disconnected.
. "$(dirname "$0")/lib.sh"
require dig python3

# 1000 connections need more than the usual 1024 descriptors (the client
# holds them too): raise the limit for this shell and its children.
if [ "$(ulimit -Sn)" != unlimited ] && [ "$(ulimit -Sn)" -lt 4096 ]; then
	ulimit -n 4096 2>/dev/null || ulimit -Sn 4096 2>/dev/null || {
		echo "skip - cannot raise the descriptor limit to 4096"
		exit 77
	}
fi

# limits.py MODE PORT [PID] — raw clients; prints "ok ..."/"FAIL ..." lines.
cat > "$TEST_TMP/limits.py" <<'EOF'
import os, select, selectors, socket, struct, sys, threading, time

ZONE = "geovip.test"
mode, port = sys.argv[1], int(sys.argv[2])
pid = int(sys.argv[3]) if len(sys.argv) > 3 else 0
IDLE = 2.0                          # tcp_idle_timeout in the config

def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid & 0xffff, 0x0100, 1, 0, 0, 0)
    for label in name.split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)

def framed(msg):
    return struct.pack(">H", len(msg)) + msg

def connect(timeout=5):
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)

def report(cond, what):
    print(("ok - " if cond else "FAIL - ") + what, flush=True)

def read_answer(f):
    """One framed answer from a buffered reader, or None at EOF."""
    head = f.read(2)
    if len(head) < 2:
        return None
    n = struct.unpack(">H", head)[0]
    body = f.read(n)
    return body if len(body) == n else None

def answered(msg, qid):
    return (msg is not None and len(msg) >= 12 and
            struct.unpack(">H", msg[:2])[0] == qid & 0xffff and
            msg[2] & 0x80 and msg[3] & 0x0f == 0 and
            struct.unpack(">H", msg[6:8])[0] >= 1)

def udp_ok(qid=77):
    """Seconds a UDP query took, or None."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    start = time.monotonic()
    try:
        s.sendto(query(qid, "www." + ZONE), ("127.0.0.1", port))
        m, _ = s.recvfrom(4096)
    except OSError:
        return None
    finally:
        s.close()
    return time.monotonic() - start if answered(m, qid) else None

def tcp_ok(qid=78):
    """Seconds a new TCP connection took to be answered, or None."""
    start = time.monotonic()
    try:
        s = connect(1)
        s.sendall(framed(query(qid, "www." + ZONE)))
        m = read_answer(s.makefile("rb"))
        s.close()
    except OSError:
        return None
    return time.monotonic() - start if answered(m, qid) else None

def closed_within(s, seconds):
    """Seconds until the server closed s, or None if it stayed open."""
    s.settimeout(seconds)
    start = time.monotonic()
    try:
        while s.recv(65536):
            pass
    except socket.timeout:
        return None
    except OSError:
        pass
    return time.monotonic() - start

def server_fds():
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except OSError:
        return -1

if mode == "idle":
    n = 1000
    conns, opened = [], {}
    for _ in range(n):
        s = connect()
        conns.append(s)
        opened[s] = time.monotonic()
    fds = server_fds()
    for _ in range(20):             # the workers accept them in a moment
        if pid == 0 or fds >= n:
            break
        time.sleep(0.05)
        fds = server_fds()
    report(pid == 0 or fds >= n, "server holds %d idle connections (%d descriptors)" % (n, fds))
    t = udp_ok()
    report(t is not None and t < 0.5, "UDP answered with %d connections open (%s s)" % (n, t))
    t = tcp_ok()
    report(t is not None and t < 0.5, "new TCP connection answered with %d open (%s s)" % (n, t))
    sel = selectors.DefaultSelector()
    for s in conns:
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    life = []
    deadline = time.monotonic() + IDLE + 5
    while len(life) < n and time.monotonic() < deadline:
        for key, _ in sel.select(0.5):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                life.append(time.monotonic() - opened[s])
                sel.unregister(s)
                s.close()
    report(len(life) == n, "all %d idle connections closed by the server (%d)" % (n, len(life)))
    if life:
        report(min(life) >= IDLE - 0.5 and max(life) <= IDLE + 3,
               "closed after the idle timeout: %.2f..%.2f s" % (min(life), max(life)))

elif mode == "stall":
    s = connect()
    s.sendall(b"\x00\x21")          # a length prefix, then nothing
    t = closed_within(s, IDLE + 4)
    report(t is not None and IDLE - 0.5 <= t <= IDLE + 2,
           "length prefix then silence: closed after %s s" % t)

elif mode == "trickle":
    # One byte every 0.5 s: each byte restarts the idle timer, but the
    # message is not whole IDLE seconds after its first byte.
    s = connect()
    msg = framed(query(31, "www." + ZONE))
    start, closed, i = time.monotonic(), None, 0
    while time.monotonic() - start < 3 * IDLE and i < len(msg):
        try:
            s.send(msg[i:i + 1])
            i += 1
            r, _, _ = select.select([s], [], [], 0.5)
            if r and not s.recv(4096):
                closed = time.monotonic() - start
        except OSError:
            closed = time.monotonic() - start
        if closed is not None:
            break
    report(closed is not None and IDLE - 0.5 <= closed <= IDLE + 1.5,
           "one byte every 0.5 s: closed at the message deadline "
           "(%s s, %d bytes sent)" % (closed, i))

elif mode == "lifetime":
    # Whole queries every IDLE/2 s never go idle nor slow: answered until
    # the connection lifetime (12 idle timeouts), then closed.
    LIFE = 12 * IDLE
    s = connect(IDLE)
    f = s.makefile("rb")
    start, qid, good, sent, closed = time.monotonic(), 1000, 0, 0, None
    while time.monotonic() - start < LIFE + 4:
        try:
            sent += 1
            s.sendall(framed(query(qid, "www." + ZONE)))
            a = read_answer(f)
        except OSError:
            a = None
        if a is None:
            closed = time.monotonic() - start
            break
        good += answered(a, qid)
        qid += 1
        time.sleep(IDLE / 2)
    # every query but one sent as the lifetime ended was answered, and
    # they kept coming for well over half the lifetime
    report(good >= sent - 1 and good >= LIFE / IDLE,
           "queries every %.1f s answered until the end (%d of %d)" % (IDLE / 2, good, sent))
    report(closed is not None and LIFE - 1 <= closed <= LIFE + 2,
           "closed at the connection lifetime %d s (%s s)" % (LIFE, closed))

elif mode == "cap":
    MAX = 10000
    def pipelined(count, first):
        """Sends count queries in big writes from a thread, reads the
        answers here; returns (answers in order, connection, reader)."""
        s = connect()
        msgs = [framed(query(first + i, "www." + ZONE)) for i in range(count)]
        def send():
            for i in range(0, count, 500):
                s.sendall(b"".join(msgs[i:i + 500]))
        th = threading.Thread(target=send)
        th.start()
        f = s.makefile("rb")
        good = 0
        for i in range(count):
            if not answered(read_answer(f), first + i):
                break
            good += 1
        th.join()
        return good, s, f
    good, s, f = pipelined(MAX - 1, 0)
    report(good == MAX - 1, "%d pipelined queries answered in order (%d)" % (MAX - 1, good))
    report(closed_within(s, 0.5) is None, "connection open after %d messages" % (MAX - 1))
    s.settimeout(5)
    s.sendall(framed(query(MAX - 1, "www." + ZONE)))
    report(answered(read_answer(f), MAX - 1), "message %d answered" % MAX)
    t = closed_within(s, 3)
    report(t is not None and t < 1, "closed right after message %d (%s s)" % (MAX, t))
    good, s, f = pipelined(MAX, 20000)
    report(good == MAX, "%d pipelined queries answered (%d)" % (MAX, good))
    t = closed_within(s, 3)
    report(t is not None and t < 1, "then closed (%s s)" % t)

elif mode == "noread":
    # Big answers (the 40-record TXT RRset, ~2.5 KB each) that are never
    # read: the server stops reading at 256 KiB of output and drops the
    # connection once its answers make no progress for the idle timeout.
    s = connect()
    s.setblocking(False)
    chunk = framed(query(9, "big." + ZONE, 16)) * 500
    sent = 0
    def push():
        global sent
        try:
            while True:
                sent += s.send(chunk)
        except BlockingIOError:
            pass
        except OSError:
            return False
        return True
    push()
    time.sleep(0.3)
    push()
    slow = [t for t in (tcp_ok(100 + i) for i in range(10)) if t is None or t >= 0.5]
    report(not slow, "10 other TCP clients answered promptly while one does not read")
    t = udp_ok()
    report(t is not None and t < 0.5, "UDP answered while one client does not read (%s s)" % t)
    start = time.monotonic()
    gone = None
    while time.monotonic() - start < IDLE + 6:
        state = s.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 8)[0]
        if state != 1 or not push():    # 1: TCP_ESTABLISHED
            gone = time.monotonic() - start
            break
        time.sleep(0.1)
    report(sent > 256 * 1024, "the client pushed %d bytes of queries" % sent)
    report(gone is not None, "the client that never reads is disconnected (after %s s)" % gone)
    s.close()
EOF
limits() {
	local rc
	python3 "$TEST_TMP/limits.py" "$@" > "$TEST_TMP/out" 2>&1
	rc=$?
	cat "$TEST_TMP/out"
	if [ "$rc" -ne 0 ] || grep -q '^FAIL' "$TEST_TMP/out"; then
		TEST_FAILS=$((TEST_FAILS + 1))
	fi
}

setup "tcp_idle_timeout: 2" "tcp_max_connections: 1200"
start_server

# the lifetime check takes 24 s: it runs beside the others
python3 "$TEST_TMP/limits.py" lifetime "$PORT" > "$TEST_TMP/life.out" 2>&1 &
life_pid=$!
limits idle "$PORT" "$SERVER_PID"
limits stall "$PORT"
limits trickle "$PORT"
limits cap "$PORT"
limits noread "$PORT"
wait "$life_pid"
life_rc=$?
cat "$TEST_TMP/life.out"
if [ "$life_rc" -ne 0 ] || grep -q '^FAIL' "$TEST_TMP/life.out"; then
	TEST_FAILS=$((TEST_FAILS + 1))
fi

check "server still answers" "192.0.2.10" "$(dig_short www.$ZONE A)"
stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
