#!/usr/bin/env python3
# tests/integration/dnsclient.py — a small stdlib-only DNS client for the
# integration scripts: raw queries with any ECS option (valid or not) over
# UDP/TCP, many queries from one process (ECS scope property, shed share,
# reload under load), and SipHash-2-4 written from the paper to recompute
# the shed decision independently of the server.
#
# Subcommands (see --help of each): q, property, shed, load, siphash.
import argparse
import ipaddress
import random
import select
import socket
import struct
import sys
import time

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16,
         "AAAA": 28, "OPT": 41, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED", 16: "BADVERS"}
ECS_CODE = 8

# RFC 7871 §10 private ranges (SPEC "Choosing the answer", step 1).
PRIVATE = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "fc00::/7", "fe80::/10",
    "::1/128", "::/128")]


# ---- SipHash-2-4 (Aumasson & Bernstein, 2012) ------------------------------

M64 = (1 << 64) - 1


def _rotl(x, b):
    return ((x << b) | (x >> (64 - b))) & M64


def siphash24(key, msg):
    """SipHash-2-4 of msg (bytes) under key (16 bytes), as an integer."""
    k0, k1 = struct.unpack("<QQ", key)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]

    def rounds(n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & M64
            v[1] = _rotl(v[1], 13) ^ v[0]
            v[0] = _rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & M64
            v[3] = _rotl(v[3], 16) ^ v[2]
            v[0] = (v[0] + v[3]) & M64
            v[3] = _rotl(v[3], 21) ^ v[0]
            v[2] = (v[2] + v[1]) & M64
            v[1] = _rotl(v[1], 17) ^ v[2]
            v[2] = _rotl(v[2], 32)

    full = len(msg) // 8 * 8
    for i in range(0, full, 8):
        m = struct.unpack("<Q", msg[i:i + 8])[0]
        v[3] ^= m
        rounds(2)
        v[0] ^= m
    last = (len(msg) & 0xff) << 56
    for i, byte in enumerate(msg[full:]):
        last |= byte << (8 * i)
    v[3] ^= last
    rounds(2)
    v[0] ^= last
    v[2] ^= 0xff
    rounds(4)
    return v[0] ^ v[1] ^ v[2] ^ v[3]


def siphash_selftest():
    # The paper's appendix A: key 00..0f, message 00..0e.
    got = siphash24(bytes(range(16)), bytes(range(15)))
    return got == 0xa129ca6149be45e5


def shed_hash(key, net):
    """SPEC step 3: family byte, K, address masked to K bits."""
    fam = 4 if net.version == 4 else 6
    return siphash24(key, bytes([fam, net.prefixlen]) + net.network_address.packed)


def shed_k(addr, source_len):
    return min(source_len, 24 if addr.version == 4 else 56)


def _splitmix(x):
    x = (x + 0x9e3779b97f4a7c15) & M64
    x = ((x ^ (x >> 30)) * 0xbf58476d1ce4e5b9) & M64
    x = ((x ^ (x >> 27)) * 0x94d049bb133111eb) & M64
    return x ^ (x >> 31)


def spread_score(key, h, name, cap):
    """A candidate region's score in the draw: -ln(u)/capacity, u drawn
    from h and SipHash(key, name)."""
    import math
    x = _splitmix(h ^ siphash24(key, name.encode()))
    u = ((x >> 11) + 0.5) / 9007199254740992.0
    return -math.log(u) / cap


def spread(key, h, candidates):
    """Where a down region's client with shed hash h goes (and a client
    of a service missing in its region, among the regions with it): of
    candidates [(name, capacity)] in config order, the lowest score
    (weighted rendezvous hashing)."""
    best, best_score = None, 0.0
    for name, cap in candidates:
        score = spread_score(key, h, name, cap)
        if best is None or score < best_score:
            best, best_score = name, score
    return best


def is_shed(key, addr, source_len, percent_bp):
    k = shed_k(addr, source_len)
    net = ipaddress.ip_network("%s/%d" % (addr, k), strict=False)
    return shed_hash(key, net) % 10000 < percent_bp


# ---- wire format -------------------------------------------------------------

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def ecs_data(prefix, scope=0):
    """ECS option data for 'ADDR/SOURCE' (address truncated as RFC 7871)."""
    addr, src = prefix.split("/")
    src = int(src)
    ip = ipaddress.ip_address(addr)
    net = ipaddress.ip_network("%s/%d" % (ip, src), strict=False)
    nbytes = (src + 7) // 8
    fam = 1 if ip.version == 4 else 2
    return struct.pack("!HBB", fam, src, scope) + net.network_address.packed[:nbytes]


def build_query(qname, qtype, qid, edns=True, options=(), rd=False):
    flags = 0x0100 if rd else 0
    hdr = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    q = encode_name(qname) + struct.pack("!HH", TYPES.get(qtype, 1)
                                         if isinstance(qtype, str) else qtype, 1)
    if not edns:
        return hdr + q
    opts = b"".join(struct.pack("!HH", code, len(data)) + data
                    for code, data in options)
    opt = b"\0" + struct.pack("!HHIH", 41, 1232, 0, len(opts)) + opts
    return hdr + q + opt


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xc0 == 0xc0:
            return off + 2
        off += n + 1


def read_name(msg, off, depth=0):
    labels = []
    while depth < 64:
        n = msg[off]
        if n == 0:
            break
        if n & 0xc0 == 0xc0:
            ptr = struct.unpack("!H", msg[off:off + 2])[0] & 0x3fff
            labels.append(read_name(msg, ptr, depth + 1))
            break
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += n + 1
    return ".".join(x for x in labels if x)


class Response:
    def __init__(self, msg):
        self.raw = msg
        (self.id, flags, qd, an, ns, ar) = struct.unpack("!HHHHHH", msg[:12])
        self.flags = flags
        self.aa = bool(flags & 0x0400)
        self.tc = bool(flags & 0x0200)
        rcode = flags & 0xf
        off = 12
        self.qname = None
        for _ in range(qd):
            self.qname = read_name(msg, off)
            off = skip_name(msg, off) + 4
        self.answer, self.authority, self.opt, self.ecs = [], [], None, []
        for section in range(3):
            for _ in range((an, ns, ar)[section]):
                name = read_name(msg, off)
                off = skip_name(msg, off)
                rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", msg[off:off + 10])
                off += 10
                rdata = msg[off:off + rdlen]
                rd_off = off
                off += rdlen
                if rtype == 41:
                    self.opt = (rclass, ttl)
                    rcode |= (ttl >> 24) << 4
                    self._parse_opt(rdata)
                    continue
                rec = (name, rtype, ttl, self._rdata_text(msg, rtype, rdata, rd_off))
                (self.answer if section == 0 else self.authority
                 if section == 1 else []).append(rec)
        self.rcode = rcode
        self.rcode_text = RCODES.get(rcode, str(rcode))

    @staticmethod
    def _rdata_text(msg, rtype, rdata, rd_off):
        if rtype == 1 and len(rdata) == 4:
            return str(ipaddress.IPv4Address(rdata))
        if rtype == 28 and len(rdata) == 16:
            return str(ipaddress.IPv6Address(rdata))
        if rtype == 16:
            out, i = [], 0
            while i < len(rdata):
                n = rdata[i]
                out.append(rdata[i + 1:i + 1 + n].decode("ascii", "replace"))
                i += n + 1
            return "".join(out)
        if rtype in (2, 5):
            return read_name(msg, rd_off) + "."
        return rdata.hex()

    def _parse_opt(self, data):
        i = 0
        while i + 4 <= len(data):
            code, length = struct.unpack("!HH", data[i:i + 4])
            body = data[i + 4:i + 4 + length]
            i += 4 + length
            if code != ECS_CODE or len(body) < 4:
                continue
            fam, src, scope = struct.unpack("!HBB", body[:4])
            addr = body[4:]
            if fam == 1:
                text = str(ipaddress.IPv4Address(addr.ljust(4, b"\0")[:4]))
            elif fam == 2:
                text = str(ipaddress.IPv6Address(addr.ljust(16, b"\0")[:16]))
            else:
                text = addr.hex()
            self.ecs.append((fam, src, scope, text, addr))

    def addresses(self):
        return ",".join(sorted(r[3] for r in self.answer if r[1] in (1, 28)))

    def line(self):
        ecs = ";".join("%d/%d/%d/%s" % e[:4] for e in self.ecs) or "none"
        ans = ",".join(sorted(r[3] for r in self.answer)) or "-"
        return "rcode=%s aa=%d tc=%d opt=%d ecs=%s answer=%s" % (
            self.rcode_text, self.aa, self.tc, self.opt is not None, ecs, ans)


def host_family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def exchange(host, port, pkt, tcp=False, timeout=2.0, bind=None):
    """One query, one answer (or None on timeout)."""
    s = socket.socket(host_family(host), socket.SOCK_STREAM if tcp else socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        if bind:
            s.bind((bind, 0))
        if tcp:
            s.connect((host, port))
            s.sendall(struct.pack("!H", len(pkt)) + pkt)
            buf = b""
            while len(buf) < 2 or len(buf) < 2 + struct.unpack("!H", buf[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    return None
                buf += chunk
            return buf[2:2 + struct.unpack("!H", buf[:2])[0]]
        s.sendto(pkt, (host, port))
        while True:
            data, _ = s.recvfrom(65535)
            if data[:2] == pkt[:2]:
                return data
    except (socket.timeout, OSError):
        return None
    finally:
        s.close()


class Batch:
    """Many UDP queries from one socket, at most `window` in flight, each
    waiting for its own answer (matched by ID and question) up to timeout."""

    def __init__(self, host, port, window=32, timeout=2.0):
        self.addr = (host, port)
        self.sock = socket.socket(host_family(host), socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        self.sock.setblocking(False)
        self.window, self.timeout = window, timeout
        self.next_id = random.randint(0, 65535)

    def run(self, queries, on_answer, until=None):
        """queries: iterable of (tag, qname, qtype, options). on_answer(tag,
        Response or None). Stops taking queries at time `until`. Returns
        (sent, lost)."""
        pending = {}  # id -> (tag, qname, deadline)
        it = iter(queries)
        exhausted, sent, lost = False, 0, 0
        while True:
            while not exhausted and len(pending) < self.window:
                if until is not None and time.monotonic() >= until:
                    exhausted = True
                    break
                try:
                    tag, qname, qtype, options = next(it)
                except StopIteration:
                    exhausted = True
                    break
                qid = self.next_id
                while qid in pending:
                    qid = (qid + 1) & 0xffff
                self.next_id = (qid + 1) & 0xffff
                pkt = build_query(qname, qtype, qid, options=options)
                self.sock.sendto(pkt, self.addr)
                pending[qid] = (tag, qname.lower().rstrip("."),
                                time.monotonic() + self.timeout)
                sent += 1
            if exhausted and not pending:
                return sent, lost
            r, _, _ = select.select([self.sock], [], [], 0.05)
            if r:
                while True:
                    try:
                        data = self.sock.recv(65535)
                    except BlockingIOError:
                        break
                    if len(data) < 12:
                        continue
                    qid = struct.unpack("!H", data[:2])[0]
                    if qid not in pending:
                        continue
                    try:
                        resp = Response(data)
                    except (IndexError, struct.error, ValueError):
                        continue
                    tag, qname, _ = pending[qid]
                    if (resp.qname or "").lower().rstrip(".") != qname:
                        continue
                    del pending[qid]
                    on_answer(tag, resp)
            now = time.monotonic()
            for qid in [q for q, v in pending.items() if v[2] < now]:
                tag = pending.pop(qid)[0]
                lost += 1
                on_answer(tag, None)


def is_private(ip):
    return any(ip in n for n in PRIVATE if n.version == ip.version)


# ---- subcommands -------------------------------------------------------------

def cmd_q(a):
    options = []
    for e in a.ecs or []:
        parts = e.split("/")
        scope = int(parts[2]) if len(parts) > 2 else 0
        options.append((ECS_CODE, ecs_data("/".join(parts[:2]), scope)))
    for h in a.ecs_raw or []:
        options.append((ECS_CODE, bytes.fromhex(h)))
    pkt = build_query(a.name, a.type.upper(), random.randint(0, 65535),
                      edns=not a.no_edns, options=options)
    data = exchange(a.host, a.port, pkt, tcp=a.tcp, bind=a.bind)
    if data is None:
        print("timeout")
        return 1
    print(Response(data).line())
    return 0


def sample_networks(path):
    nets = []
    with open(path) as f:
        for line in f:
            line = line.split("#")[0].split()
            if not line:
                continue
            net = ipaddress.ip_network(line[0])
            if not any(net.subnet_of(p) for p in PRIVATE if p.version == net.version):
                nets.append(net)
    return nets


def random_in(net, rng):
    host_bits = net.max_prefixlen - net.prefixlen
    return net.network_address + rng.getrandbits(host_bits) if host_bits else net.network_address


def random_public(version, rng):
    while True:
        if version == 4:
            ip = ipaddress.IPv4Address(rng.getrandbits(32))
            if ip.is_multicast or ip >= ipaddress.IPv4Address("240.0.0.0"):
                continue
        else:
            ip = ipaddress.IPv6Address((0x2 << 125) | rng.getrandbits(125))
        if not is_private(ip):
            return ip


def cmd_property(a):
    """For COUNT addresses A: ECS A/32 (A/128) gives scope S; 3 other public
    addresses inside A/S must get the same answer."""
    rng = random.Random(a.seed)
    nets = sample_networks(a.sample)
    batch = Batch(a.host, a.port, window=16)
    first = {}

    def draw():
        r = rng.random()
        if r < 0.6:
            return random_in(rng.choice(nets), rng)
        return random_public(4 if r < 0.85 else 6, rng)

    addrs, seen = [], set()
    while len(addrs) < a.count:
        ip = draw()
        if not is_private(ip) and ip not in seen:
            seen.add(ip)
            addrs.append(ip)
    qs = [(ip, a.name, a.type, [(ECS_CODE, ecs_data("%s/%d" % (ip, ip.max_prefixlen)))])
          for ip in addrs]
    batch.run(qs, lambda tag, resp: first.__setitem__(tag, resp))

    second, fails, checks, skipped = {}, 0, 0, 0
    qs = []
    for ip in addrs:
        resp = first.get(ip)
        if resp is None or not resp.ecs:
            print("FAIL - property: no answer or no ECS for %s" % ip)
            fails += 1
            continue
        scope = resp.ecs[0][2]
        net = ipaddress.ip_network("%s/%d" % (ip, min(scope, ip.max_prefixlen)), strict=False)
        others = []
        for _ in range(200):
            if len(others) == 3:
                break
            o = random_in(net, rng)
            if o != ip and not is_private(o) and o not in others:
                others.append(o)
        if len(others) < 3:
            skipped += 1
        for o in others:
            qs.append(((ip, o), a.name, a.type,
                       [(ECS_CODE, ecs_data("%s/%d" % (o, o.max_prefixlen)))]))
    batch.run(qs, lambda tag, resp: second.__setitem__(tag, resp))
    for (ip, o), resp in sorted(second.items(), key=lambda kv: str(kv[0])):
        checks += 1
        want = first[ip]
        if resp is None or resp.rcode != want.rcode or resp.addresses() != want.addresses():
            fails += 1
            if fails <= 20:
                print("FAIL - property: %s/%d -> [%s] scope %d, but %s -> [%s] %s" % (
                    ip, ip.max_prefixlen, want.addresses(), want.ecs[0][2], o,
                    resp.addresses() if resp else "timeout",
                    "scope %d" % resp.ecs[0][2] if resp and resp.ecs else ""))
    missing = len(qs) - len(second)
    if missing:
        fails += missing
        print("FAIL - property: %d answers missing" % missing)
    print("property: %d addresses, %d same-scope checks, %d with <3 others, %d failures"
          % (len(addrs), checks, skipped, fails))
    return 1 if fails else 0


def cmd_shed(a):
    """Queries COUNT distinct /SRC clients inside NET; prints one line per
    client: 'CLIENT ANSWER SCOPE PREDICTED' (PREDICTED: shed/stay from the
    python SipHash, when --key and --percent are given)."""
    net = ipaddress.ip_network(a.net)
    key = bytes.fromhex(a.key) if a.key else None
    bp = int(round(float(a.percent) * 100)) if a.percent is not None else None
    step = 1 << (net.max_prefixlen - a.src)
    total = 1 << (a.src - net.prefixlen)
    # a fixed, spread-out set of distinct clients (stride coprime to total)
    stride = 40503 % total | 1
    clients = [net.network_address + ((i * stride) % total) * step for i in range(a.count)]
    results = {}
    qs = [(c, a.name, "A", [(ECS_CODE, ecs_data("%s/%d" % (c, a.src)))]) for c in clients]
    sent, lost = Batch(a.host, a.port, window=32).run(
        qs, lambda tag, resp: results.__setitem__(tag, resp))
    out = open(a.out, "w") if a.out else sys.stdout
    for c in clients:
        resp = results.get(c)
        pred = "-"
        if key is not None and bp is not None:
            pred = "shed" if is_shed(key, c, a.src, bp) else "stay"
        if resp is None:
            out.write("%s/%d timeout - %s\n" % (c, a.src, pred))
            continue
        scope = resp.ecs[0][2] if resp.ecs else -1
        out.write("%s/%d %s %d %s\n" % (c, a.src, resp.addresses() or "-", scope, pred))
    if out is not sys.stdout:
        out.close()
    return 1 if lost else 0


def cmd_load(a):
    """UDP load for DURATION seconds: prints sent, lost, and how many answers
    matched each of the SETS (comma-separated addresses, sets split by |)."""
    sets = {",".join(sorted(s.split(","))): i for i, s in enumerate(a.sets.split("|"))}
    counts = [0] * len(sets)
    bad = {}
    stats = {"answered": 0, "lost": 0}

    def on_answer(tag, resp):
        if resp is None:
            stats["lost"] += 1
            return
        stats["answered"] += 1
        got = resp.addresses()
        if resp.rcode == 0 and got in sets:
            counts[sets[got]] += 1
        else:
            key = "%s:%s" % (resp.rcode_text, got or "-")
            bad[key] = bad.get(key, 0) + 1

    def queries():
        while True:
            yield (None, a.name, "A", [])

    start = time.monotonic()
    batch = Batch(a.host, a.port, window=a.window, timeout=a.timeout)
    sent, lost = batch.run(queries(), on_answer, until=start + a.duration)
    elapsed = time.monotonic() - start
    print("sent=%d answered=%d lost=%d qps=%d sets=%s other=%d" % (
        sent, stats["answered"], lost, sent / elapsed,
        "/".join(str(c) for c in counts), sum(bad.values())))
    for k, v in sorted(bad.items()):
        print("  unexpected answer %s x%d" % (k, v))
    return 0


def cmd_siphash(a):
    if not siphash_selftest():
        print("siphash self-test FAILED")
        return 1
    ip = ipaddress.ip_address(a.addr.split("/")[0])
    src = int(a.addr.split("/")[1]) if "/" in a.addr else ip.max_prefixlen
    k = shed_k(ip, src)
    net = ipaddress.ip_network("%s/%d" % (ip, k), strict=False)
    h = shed_hash(bytes.fromhex(a.key), net)
    bp = int(round(float(a.percent) * 100))
    print("K=%d h=%d mod=%d %s" % (k, h, h % 10000, "shed" if h % 10000 < bp else "stay"))
    return 0


def main():
    p = argparse.ArgumentParser(description="geovip test DNS client")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=53)
    p.add_argument("--bind", help="source address of single queries")
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("q", help="one query; prints rcode, flags, ECS, answer")
    q.add_argument("name")
    q.add_argument("type", nargs="?", default="A")
    q.add_argument("--tcp", action="store_true")
    q.add_argument("--no-edns", action="store_true")
    q.add_argument("--ecs", action="append", help="ADDR/SOURCE[/SCOPE]")
    q.add_argument("--ecs-raw", action="append", help="option data in hex")
    pr = sub.add_parser("property")
    pr.add_argument("--sample", required=True)
    pr.add_argument("--count", type=int, default=200)
    pr.add_argument("--seed", type=int, default=1)
    pr.add_argument("--name", default="www.example.com")
    pr.add_argument("--type", default="A")
    sh = sub.add_parser("shed")
    sh.add_argument("--net", required=True)
    sh.add_argument("--src", type=int, default=24)
    sh.add_argument("--count", type=int, default=4000)
    sh.add_argument("--name", default="www.example.com")
    sh.add_argument("--key")
    sh.add_argument("--percent")
    sh.add_argument("--out")
    ld = sub.add_parser("load")
    ld.add_argument("--name", required=True)
    ld.add_argument("--sets", required=True)
    ld.add_argument("--duration", type=float, default=5)
    ld.add_argument("--window", type=int, default=16)
    ld.add_argument("--timeout", type=float, default=2)
    sp = sub.add_parser("siphash")
    sp.add_argument("--key", required=True)
    sp.add_argument("--addr", required=True)
    sp.add_argument("--percent", default="0")
    a = p.parse_args()
    return {"q": cmd_q, "property": cmd_property, "shed": cmd_shed,
            "load": cmd_load, "siphash": cmd_siphash}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
