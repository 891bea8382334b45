#!/usr/bin/env python3
# tests/integration/fake_ixfr.py — a misbehaving primary for ixfr.sh
# (stdlib only, unsigned): answers each IXFR for sec.test. over TCP as
# MODE says, and each AXFR with REFUSED (so a fallback cannot hide the
# bad IXFR) or, in mode "fallback", with a good full zone.
#   wrong-start  a diff that starts at our serial minus one
#   bad-delete   a diff that deletes a record the copy does not have
#   garbage      random bytes
#   stall        half a message, then nothing
#   fallback     wrong-start, then a good AXFR (serial ours + 1)
#   backwards    a diff whose second version is older than the first
#   wrap         a good two-version diff from our serial to ours + 10
#                modulo 2^32 (RFC 1982): txt "v5" becomes "wrapped"
# Usage: fake_ixfr.py PORT MODE
import os
import socket
import struct
import sys
import time

ORIGIN = "sec.test."


def name(n):
    out = b""
    for label in n.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def rr(owner, rtype, rdata, ttl=300):
    return name(owner) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def soa(serial):
    rdata = name("ns1." + ORIGIN) + name("hostmaster." + ORIGIN)
    rdata += struct.pack("!IIIII", serial, 2, 1, 600, 60)
    return rr(ORIGIN, 6, rdata)


def a(owner, addr):
    return rr(owner, 1, socket.inet_aton(addr))


def txt(owner, text):
    return rr(owner, 16, bytes([len(text)]) + text.encode())


def message(qid, qtype, rcode, records):
    hdr = struct.pack("!HHHHHH", qid, 0x8400 | rcode, 1, len(records), 0, 0)
    body = hdr + name(ORIGIN) + struct.pack("!HH", qtype, 1) + b"".join(records)
    return struct.pack("!H", len(body)) + body


def skip_name(buf, i):
    while True:
        n = buf[i]
        if n == 0:
            return i + 1
        if n & 0xC0 == 0xC0:
            return i + 2
        i += n + 1


def parse(req):
    """(id, qtype, the serial of the SOA in authority or None)."""
    qid, _, qd, an, ns, _ = struct.unpack("!HHHHHH", req[:12])
    i = skip_name(req, 12)
    qtype = struct.unpack("!H", req[i:i + 2])[0]
    i += 4
    serial = None
    if ns:
        i = skip_name(req, i)
        i += 10  # type, class, ttl, rdlength
        i = skip_name(req, i)
        i = skip_name(req, i)
        serial = struct.unpack("!I", req[i:i + 4])[0]
    return qid, qtype, serial


def full_zone(serial):
    return [soa(serial), rr(ORIGIN, 2, name("ns1." + ORIGIN)),
            a("ns1." + ORIGIN, "192.0.2.53"), a("host." + ORIGIN, "192.0.2.99"),
            txt("txt." + ORIGIN, "fallback-%d" % serial), soa(serial)]


def answer(c, mode, req):
    qid, qtype, ours = parse(req)
    if mode == "garbage":
        body = os.urandom(300)
        c.sendall(struct.pack("!H", len(body)) + body)
        return
    if mode == "stall":
        c.sendall(struct.pack("!H", 500) + b"\0" * 20)
        time.sleep(60)
        return
    if qtype == 252:  # AXFR
        if mode == "fallback":
            c.sendall(message(qid, 252, 0, full_zone(ours_seen[0] + 1)))
        else:
            c.sendall(message(qid, 252, 5, []))
        return
    ours_seen[0] = ours
    new = (ours + 1) % 2**32
    if mode == "wrap":
        new, mid = (ours + 10) % 2**32, (ours + 5) % 2**32
        recs = [soa(new), soa(ours), txt("txt." + ORIGIN, "v5"), soa(mid),
                txt("txt." + ORIGIN, "middle"), soa(mid),
                txt("txt." + ORIGIN, "middle"), soa(new),
                txt("txt." + ORIGIN, "wrapped"), soa(new)]
    elif mode == "backwards":
        recs = [soa(new), soa(ours), soa(ours - 1), soa(ours - 1), soa(new),
                soa(new)]
    elif mode in ("wrong-start", "fallback"):
        recs = [soa(new), soa(ours - 1), soa(new), a("x." + ORIGIN, "192.0.2.1"),
                soa(new)]
    else:  # bad-delete
        recs = [soa(new), soa(ours), a("nothere." + ORIGIN, "192.0.2.7"),
                soa(new), soa(new)]
    c.sendall(message(qid, 251, 0, recs))


def recv_msg(c):
    data = b""
    while len(data) < 2:
        chunk = c.recv(65535)
        if not chunk:
            return None
        data += chunk
    n = struct.unpack("!H", data[:2])[0]
    while len(data) < 2 + n:
        chunk = c.recv(65535)
        if not chunk:
            return None
        data += chunk
    return data[2:2 + n]


ours_seen = [0]


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port))
    s.listen(5)
    while True:
        c, _ = s.accept()
        try:
            req = recv_msg(c)
            if req:
                answer(c, mode, req)
            c.close()
        except OSError:
            pass


main()
