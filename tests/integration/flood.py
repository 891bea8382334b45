#!/usr/bin/env python3
# tests/integration/flood.py — paced UDP query streams for rrl.sh: each
# stream sends COUNT queries from its source addresses (several sockets,
# so several ports, per address) spread evenly over DURATION seconds, all
# streams at once from one loop; answers are collected until WAIT seconds
# after the last send and counted as full (TC=0), tc (TC=1) or none.
#
#   flood.py --port P --stream NAME=SRC[,SRC...]:COUNT [--stream ...]
#            [--cookie NAME=HEX]   (that stream's queries carry a COOKIE
#                                   option with these bytes: cookies.sh)
#
# prints one line per stream:
#   NAME sent=N full=F tc=T none=X elapsed=SECONDS
# (elapsed: from the stream's first send to its last).
import argparse
import os
import select
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dnsclient import build_query  # noqa: E402


class Stream:
    def __init__(self, spec, port, host, sockets_per_source):
        name, rest = spec.split("=", 1)
        srcs, count = rest.rsplit(":", 1)
        self.name, self.count = name, int(count)
        self.socks = []
        for src in srcs.split(","):
            for _ in range(sockets_per_source):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
                s.bind((src, 0))
                s.setblocking(False)
                self.socks.append(s)
        self.dest = (host, port)
        self.sent = 0
        self.pending = {}  # (socket index, id) -> True
        self.full = self.tc = 0
        self.first = self.last = None
        self.options = ()

    def due(self, start, duration):
        """How many queries should have been sent by now."""
        if self.count <= 1:
            return self.count
        frac = (time.monotonic() - start) / duration
        return min(self.count, int(frac * (self.count - 1)) + 1)

    def send_one(self, qname, qtype):
        i = self.sent % len(self.socks)
        qid = (self.sent // len(self.socks)) & 0xffff
        pkt = build_query(qname, qtype, qid, options=self.options)
        try:
            self.socks[i].sendto(pkt, self.dest)
        except OSError:
            pass  # counted as none
        now = time.monotonic()
        if self.first is None:
            self.first = now
        self.last = now
        self.pending[(i, qid)] = True
        self.sent += 1

    def receive(self, sock_index):
        s = self.socks[sock_index]
        while True:
            try:
                data = s.recv(65535)
            except (BlockingIOError, InterruptedError):
                return
            if len(data) < 12:
                continue
            qid, flags = struct.unpack("!HH", data[:4])
            if not flags & 0x8000 or self.pending.pop((sock_index, qid), None) is None:
                continue
            if flags & 0x0200:
                self.tc += 1
            else:
                self.full += 1

    def report(self):
        elapsed = (self.last - self.first) if self.first is not None else 0.0
        none = self.sent - self.full - self.tc
        return "%s sent=%d full=%d tc=%d none=%d elapsed=%.3f" % (
            self.name, self.sent, self.full, self.tc, none, elapsed)


def main():
    p = argparse.ArgumentParser(description="paced UDP query streams")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--stream", action="append", required=True,
                   help="NAME=SRC[,SRC...]:COUNT")
    p.add_argument("--cookie", action="append", default=[],
                   help="NAME=HEX: a COOKIE option on that stream's queries")
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--wait", type=float, default=1.5)
    p.add_argument("--sockets-per-source", type=int, default=2)
    p.add_argument("--name", required=True)
    p.add_argument("--type", default="TXT")
    a = p.parse_args()

    streams = [Stream(s, a.port, a.host, a.sockets_per_source) for s in a.stream]
    for spec in a.cookie:
        name, hexdata = spec.split("=", 1)
        for st in streams:
            if st.name == name:
                st.options = ((10, bytes.fromhex(hexdata)),)
    owner = {}
    for st in streams:
        for i, s in enumerate(st.socks):
            owner[s.fileno()] = (st, i)
    start = time.monotonic()
    end = start + a.duration + a.wait
    while time.monotonic() < end:
        for st in streams:
            while st.sent < st.due(start, a.duration):
                st.send_one(a.name, a.type)
        if all(st.sent == st.count and not st.pending for st in streams):
            break
        r, _, _ = select.select(list(owner), [], [], 0.002)
        for fd in r:
            st, i = owner[fd]
            st.receive(i)
    for st in streams:
        print(st.report())
        for s in st.socks:
            s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
