#!/usr/bin/env python3
# tests/soak/load.py — the soak's load driver (stdlib only): paced UDP
# queries where every one must be answered (no retries), and TCP
# connections sending pipelined batches and reconnecting, over a mix of
# names given in a JSON spec; every answer is checked against the sets the
# spec allows (one per config the soak alternates between).
#
#   load.py --port P --spec FILE [--duration S] [--udp-rate Q] [--tcp-conns N]
#
# Prints one summary line "key=value ..." (then up to 20 problems) and exits
# 0 when nothing was lost or wrong, 1 otherwise.
import argparse
import json
import multiprocessing
import os
import random
import select
import socket
import struct
import sys
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dnsclient  # noqa: E402  (build_query, Response, ecs_data)

MAX_PROBLEMS = 20


class Spec:
    """The query mix: each entry a name, type, optional ECS prefix, the
    expected rcode and the answer sets allowed (sorted rdata texts)."""

    def __init__(self, path):
        with open(path) as f:
            self.entries = json.load(f)
        for e in self.entries:
            e["allowed"] = [sorted(a) for a in e["answers"]]
            opts = []
            if e.get("ecs"):
                opts.append((dnsclient.ECS_CODE, dnsclient.ecs_data(e["ecs"])))
            e["options"] = opts

    def pick(self, rng):
        e = rng.choice(self.entries)
        name = e["name"].replace("{r}", "%08x" % rng.getrandbits(32))
        return e, name

    @staticmethod
    def query(e, name, qid):
        return dnsclient.build_query(name, e["type"], qid, options=e["options"])

    @staticmethod
    def check(e, name, data):
        """(None, set index) when the answer is valid, else (reason, -1)."""
        why, idx = Spec._check(e, name, data)
        return (why, -1) if why else (None, idx)

    @staticmethod
    def _check(e, name, data):
        try:
            r = dnsclient.Response(data)
        except (IndexError, struct.error, ValueError, UnicodeError) as exc:
            return "unparsable answer (%s)" % exc, -1
        if (r.qname or "").lower().rstrip(".") != name.lower().rstrip("."):
            return "question %r echoed as %r" % (name, r.qname), -1
        if r.rcode_text != e["rcode"]:
            return "%s %s: rcode %s, want %s" % (
                name, e["type"], r.rcode_text, e["rcode"]), -1
        if r.tc:
            return "%s %s: TC set" % (name, e["type"]), -1
        got = sorted(x[3] for x in r.answer)
        if got not in e["allowed"]:
            return "%s %s: answer %s not in %s" % (
                name, e["type"], got, e["allowed"]), -1
        if e.get("ecs"):
            src = int(e["ecs"].split("/")[1])
            if len(r.ecs) != 1 or r.ecs[0][1] != src:
                return "%s: ECS %s not echoed (%s)" % (name, e["ecs"], r.ecs), -1
            if r.ecs[0][2] < e.get("scope_min", 0):
                return "%s: ECS scope %d < %d" % (
                    name, r.ecs[0][2], e["scope_min"]), -1
        # which config's set, when the configs differ here
        return None, e["allowed"].index(got) if len(e["allowed"]) > 1 else -1


def udp_run(args, spec, out):
    """Paced UDP: query i leaves at start + i/rate; each waits for its own
    answer up to --timeout, and is counted unanswered otherwise."""
    rng = random.Random(1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.setblocking(False)
    addr = ("127.0.0.1", args.port)
    st = {"udp_sent": 0, "udp_answered": 0, "udp_unanswered": 0,
          "udp_invalid": 0, "udp_late_or_stray": 0, "udp_set0": 0,
          "udp_set1": 0}
    problems = []
    pending = {}  # id -> (entry, name, deadline)
    next_id = rng.randrange(65536)
    start = time.monotonic()
    end = start + args.duration
    while True:
        now = time.monotonic()
        due = min(int((min(now, end) - start) * args.udp_rate), 1 << 62)
        while st["udp_sent"] < due:
            while next_id in pending:
                next_id = (next_id + 1) & 0xffff
            e, name = spec.pick(rng)
            try:
                s.sendto(Spec.query(e, name, next_id), addr)
            except BlockingIOError:
                break  # the socket buffer is full: try again shortly
            pending[next_id] = (e, name, now + args.timeout)
            next_id = (next_id + 1) & 0xffff
            st["udp_sent"] += 1
        if now >= end and not pending:
            break
        r, _, _ = select.select([s], [], [], 0.002)
        if r:
            while True:
                try:
                    data = s.recv(65535)
                except BlockingIOError:
                    break
                qid = struct.unpack("!H", data[:2])[0] if len(data) >= 2 else -1
                if qid not in pending:
                    st["udp_late_or_stray"] += 1
                    continue
                e, name, _ = pending.pop(qid)
                st["udp_answered"] += 1
                why, idx = Spec.check(e, name, data)
                if idx >= 0:
                    st["udp_set%d" % idx] = st.get("udp_set%d" % idx, 0) + 1
                if why:
                    st["udp_invalid"] += 1
                    if len(problems) < MAX_PROBLEMS:
                        problems.append("udp: " + why)
        now = time.monotonic()
        for qid in [q for q, v in pending.items() if v[2] < now]:
            e, name, _ = pending.pop(qid)
            st["udp_unanswered"] += 1
            if len(problems) < MAX_PROBLEMS:
                problems.append("udp: no answer to %s %s within %.1f s" %
                                (name, e["type"], args.timeout))
    st["udp_seconds"] = round(time.monotonic() - start, 1)
    out.put((st, problems))


def tcp_conn_loop(args, spec, idx, end, st, problems, lock):
    """One client: connect, send --batch pipelined queries in one write,
    read as many answers, --batches times, then reconnect."""
    rng = random.Random(100 + idx)
    per_batch = 1.0 / (args.tcp_rate / args.tcp_conns / args.batch)
    next_t = time.monotonic()
    while time.monotonic() < end:
        try:
            c = socket.create_connection(("127.0.0.1", args.port), timeout=5)
        except OSError as exc:
            with lock:
                st["tcp_errors"] += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append("tcp: connect: %s" % exc)
            time.sleep(0.1)
            continue
        with lock:
            st["tcp_connections"] += 1
        try:
            for _ in range(args.batches):
                if time.monotonic() >= end:
                    break
                batch, wire = {}, b""
                for _ in range(args.batch):
                    qid = rng.randrange(65536)
                    while qid in batch:
                        qid = rng.randrange(65536)
                    e, name = spec.pick(rng)
                    q = Spec.query(e, name, qid)
                    batch[qid] = (e, name)
                    wire += struct.pack("!H", len(q)) + q
                c.sendall(wire)
                with lock:
                    st["tcp_sent"] += len(batch)
                buf = b""
                while batch:
                    while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                        chunk = c.recv(65535)
                        if not chunk:
                            raise ConnectionError("closed by the server with "
                                                  "%d answers due" % len(batch))
                        buf += chunk
                    n = struct.unpack("!H", buf[:2])[0]
                    msg, buf = buf[2:2 + n], buf[2 + n:]
                    qid = struct.unpack("!H", msg[:2])[0]
                    if qid not in batch:
                        raise ConnectionError("answer with unknown ID %d" % qid)
                    e, name = batch.pop(qid)
                    why, idx = Spec.check(e, name, msg)
                    with lock:
                        st["tcp_answered"] += 1
                        if idx >= 0:
                            k = "tcp_set%d" % idx
                            st[k] = st.get(k, 0) + 1
                        if why:
                            st["tcp_invalid"] += 1
                            if len(problems) < MAX_PROBLEMS:
                                problems.append("tcp: " + why)
                next_t += per_batch
                delay = next_t - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    next_t = time.monotonic()
        except (OSError, ConnectionError) as exc:
            with lock:
                st["tcp_errors"] += 1
                if len(problems) < MAX_PROBLEMS:
                    problems.append("tcp: %s" % exc)
        finally:
            c.close()


def tcp_run(args, spec, out):
    st = {"tcp_sent": 0, "tcp_answered": 0, "tcp_invalid": 0,
          "tcp_errors": 0, "tcp_connections": 0, "tcp_set0": 0, "tcp_set1": 0}
    problems = []
    lock = threading.Lock()
    end = time.monotonic() + args.duration
    threads = [threading.Thread(target=tcp_conn_loop,
                                args=(args, spec, i, end, st, problems, lock))
               for i in range(args.tcp_conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((st, problems))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--spec", required=True)
    p.add_argument("--duration", type=float, default=180)
    p.add_argument("--udp-rate", type=float, default=2000)
    p.add_argument("--timeout", type=float, default=2.0)
    p.add_argument("--tcp-conns", type=int, default=4)
    p.add_argument("--tcp-rate", type=float, default=800,
                   help="queries per second over all TCP connections")
    p.add_argument("--batch", type=int, default=20,
                   help="pipelined queries per write")
    p.add_argument("--batches", type=int, default=25,
                   help="batches per connection before reconnecting")
    args = p.parse_args()
    spec = Spec(args.spec)

    # UDP and TCP in their own processes: one GIL each, so TCP work never
    # delays the UDP pacing.
    out = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=f, args=(args, spec, out))
             for f in (udp_run, tcp_run)]
    t0 = time.monotonic()
    for pr in procs:
        pr.start()
    stats, problems = {}, []
    for _ in procs:
        st, pb = out.get(timeout=args.duration + 120)
        stats.update(st)
        problems += pb
    for pr in procs:
        pr.join()
    elapsed = time.monotonic() - t0
    total = stats["udp_sent"] + stats["tcp_sent"]
    stats["queries"] = total
    stats["qps"] = int(total / elapsed)
    stats["udp_qps"] = int(stats["udp_sent"] / args.duration)
    print(" ".join("%s=%s" % kv for kv in stats.items()))
    for pb in problems[:MAX_PROBLEMS]:
        print("  " + pb)
    bad = (stats["udp_unanswered"] + stats["udp_invalid"] + stats["tcp_invalid"]
           + stats["tcp_errors"] + (stats["tcp_sent"] - stats["tcp_answered"]))
    return 1 if bad or stats["udp_sent"] == 0 or stats["tcp_sent"] == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
