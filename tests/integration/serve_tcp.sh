#!/bin/bash
# tests/integration/serve_tcp.sh — geovipd over TCP (RFC 7766): dig and
# kdig, pipelining, idle and half-message timeouts, the connection cap
# (an idle connection evicted for a newcomer, busy ones kept), a
# client that never reads, and TC over UDP followed by the full answer.
. "$(dirname "$0")/lib.sh"
require dig python3

# tcp.py MODE PORT — raw TCP clients; prints "ok ..." or "FAIL ..." lines.
cat > "$TEST_TMP/tcp.py" <<'EOF'
import socket, struct, sys, time

ZONE = "geovip.test"
mode, port = sys.argv[1], int(sys.argv[2])

def query(qid, name, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    return q + b"\x00" + struct.pack(">HH", qtype, 1)

def framed(msg):
    return struct.pack(">H", len(msg)) + msg

def connect():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s

def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf

def read_answer(s):
    head = recv_exact(s, 2)
    if head is None:
        return None
    return recv_exact(s, struct.unpack(">H", head)[0])

def closed_within(s, seconds):
    """Seconds until the server closed s, or None if it stayed open."""
    s.settimeout(seconds)
    start = time.monotonic()
    try:
        while s.recv(4096):
            pass
    except socket.timeout:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - start

def report(cond, what):
    print(("ok - " if cond else "FAIL - ") + what)

def served(s, qid=7):
    try:
        s.sendall(framed(query(qid, "www." + ZONE)))
        a = read_answer(s)
    except OSError:
        return False
    return a is not None and struct.unpack(">H", a[:2])[0] == qid

if mode == "pipeline":
    s = connect()
    names = ["www", "api", "token"]
    s.sendall(b"".join(framed(query(100 + i, n + "." + ZONE)) for i, n in enumerate(names)))
    ids = []
    for _ in names:
        a = read_answer(s)
        ids.append(None if a is None else struct.unpack(">H", a[:2])[0])
    report(ids == [100, 101, 102], "3 pipelined queries in one write: answers in order %s" % ids)
    # One message split across writes still gets its answer.
    m = framed(query(200, "www." + ZONE))
    s.sendall(m[:1]); time.sleep(0.2); s.sendall(m[1:5]); time.sleep(0.2); s.sendall(m[5:])
    a = read_answer(s)
    report(a is not None and a[:2] == b"\x00\xc8", "a message split over 3 writes is answered")
    # A zero-length message closes the connection after earlier answers.
    s.sendall(framed(query(201, "www." + ZONE)) + b"\x00\x00")
    a = read_answer(s)
    report(a is not None and a[:2] == b"\x00\xc9", "answer before a zero-length message is sent")
    report(closed_within(s, 3) is not None, "zero-length message closes the connection")

elif mode == "idle":
    s = connect()
    t = closed_within(s, 6)
    report(t is not None and 1.5 <= t <= 4, "silent connection closed after idle timeout 2 s (%s)" % t)
    s = connect()
    s.sendall(b"\x00")
    t = closed_within(s, 6)
    report(t is not None and 1.5 <= t <= 4, "connection stalled mid-prefix closed (%s)" % t)
    s = connect()
    s.sendall(framed(query(5, "www." + ZONE))[:8])
    t = closed_within(s, 6)
    report(t is not None and 1.5 <= t <= 4, "connection stalled mid-message closed (%s)" % t)

elif mode == "cap":
    # At the cap (2) a newcomer is served and an idle connection (nothing
    # half-received, nothing unsent) is closed to make room; one with a
    # partial message is never closed for it.
    strict = len(sys.argv) > 3      # one worker: the choice is exact
    a, b = connect(), connect()
    report(served(a, 1) and served(b, 2), "2 connections served (cap 2)")
    c = connect()
    report(served(c, 3), "3rd connection served at the cap")
    ta, tb = closed_within(a, 1), closed_within(b, 1)
    report((ta is None) != (tb is None),
           "exactly one idle connection closed for it (%s, %s)" % (ta, tb))
    if strict:
        report(ta is not None, "the least recently active one (a)")
    keep = b if ta is not None else a
    report(served(keep, 5), "the other connection still served")
    m6, m7 = framed(query(6, "www." + ZONE)), framed(query(7, "www." + ZONE))
    keep.sendall(m6[:5])
    c.sendall(m7[:5])
    time.sleep(0.5)             # the server has read the partial messages
    d = connect()
    got = served(d, 8)
    if strict:
        report(not got and closed_within(d, 3) is not None,
               "no connection idle: the newcomer is refused")
    d.close()
    keep.sendall(m6[5:])
    c.sendall(m7[5:])
    a6, a7 = read_answer(keep), read_answer(c)
    report(a6 is not None and a6[:2] == b"\x00\x06" and
           a7 is not None and a7[:2] == b"\x00\x07",
           "connections with a partial message were kept and answered")
    keep.close()
    c.close()
    good = False
    for _ in range(20):          # the server notices the closes at once
        time.sleep(0.1)
        d = connect()
        if served(d, 4):
            good = True
            break
        d.close()
    report(good, "a new connection is served once others closed")

elif mode == "stuck":
    # A client that sends many queries for a big answer and never reads
    # must not hold up another client.
    s = connect()
    s.setblocking(False)
    msg = framed(query(9, "big." + ZONE, 16)) * 2000
    try:
        s.send(msg)
    except BlockingIOError:
        pass
    okay = False
    for _ in range(10):          # earlier clients' closes may still be in flight
        other = connect()
        start = time.monotonic()
        if served(other, 10):
            okay = time.monotonic() - start < 1.0
            break
        other.close()
        time.sleep(0.1)
    report(okay, "other client served while one does not read")
    s.close()
EOF
tcp() { python3 "$TEST_TMP/tcp.py" "$@"; }

setup "tcp_idle_timeout: 2" "tcp_max_connections: 2"
start_server

# --- dig and kdig over TCP
check "dig +tcp www A" "192.0.2.10" "$(dig_short +tcp www.$ZONE A)"
check "dig +tcp from 127.0.1.1" "198.51.100.10 198.51.100.11" \
	"$(dig_short +tcp -b 127.0.1.1 www.$ZONE A)"
if command -v kdig >/dev/null 2>&1; then
	out=$(kdig @127.0.0.1 -p "$PORT" +tcp +keepopen +short +time=2 +retry=0 \
		www.$ZONE A api.$ZONE A token.$ZONE TXT 2>&1)
	check "kdig +keepopen: 3 queries on one connection" \
		"\"$TOKEN\" 192.0.2.10 192.0.2.10" "$(printf '%s\n' "$out" | sort | tr '\n' ' ' | sed 's/ $//')"
fi

# --- RFC 7766 framing
tcp pipeline "$PORT" | tee "$TEST_TMP/out"
grep -q '^FAIL' "$TEST_TMP/out" && TEST_FAILS=$((TEST_FAILS + 1))

# --- truncation: the big RRset does not fit UDP, TCP gets it all
out=$(dig_full +notcp +ignore big.$ZONE TXT)
check_grep "UDP: TC set for a big RRset" "(^| )tc( |$)" "$(flags "$out")"
check "UDP: truncated answer is empty" 0 "$(count ANSWER "$out")"
out=$(dig_full +tcp big.$ZONE TXT)
check "TCP: whole big RRset" 40 "$(count ANSWER "$out")"
out=$(dig_full big.$ZONE TXT)
check "dig retries over TCP after TC" 40 "$(count ANSWER "$out")"

# --- timeouts, cap, a client that does not read
tcp idle "$PORT" | tee "$TEST_TMP/out"
grep -q '^FAIL' "$TEST_TMP/out" && TEST_FAILS=$((TEST_FAILS + 1))
tcp cap "$PORT" | tee "$TEST_TMP/out"
grep -q '^FAIL' "$TEST_TMP/out" && TEST_FAILS=$((TEST_FAILS + 1))
tcp stuck "$PORT" | tee "$TEST_TMP/out"
grep -q '^FAIL' "$TEST_TMP/out" && TEST_FAILS=$((TEST_FAILS + 1))

check "UDP unaffected by TCP clients" "192.0.2.10" "$(dig_short www.$ZONE A)"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"

# --- the cap with one worker: which connection goes is exact
sed -i 's/^workers: 2$/workers: 1/' "$CONF"
start_server
tcp cap "$PORT" strict | tee "$TEST_TMP/out"
grep -q '^FAIL' "$TEST_TMP/out" && TEST_FAILS=$((TEST_FAILS + 1))
stop_server TERM
check "SIGTERM exit status (one worker)" 0 "$SERVER_STATUS"
finish
