#!/usr/bin/env python3
# tests/bench/scopes.py — `make bench`: ECS scopes of geovip against gdnsd
# on the same database and region map, over a deterministic sample of
# public IPv4 /24 and IPv6 /48 clients. Prints how often geovip's scope is
# narrower, equal or wider than gdnsd's, whether the answers agree, and
# checks geovip's scopes are truthful: other clients inside each claimed
# prefix (same SOURCE PREFIX-LENGTH) get the same answer.
# Usage: scopes.py GEOVIP_PORT GDNSD_PORT [V4_COUNT V6_COUNT]
import ipaddress
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import dnsclient  # noqa: E402

QNAME = "www.example.com"


def sample(rng, count, version):
    out = []
    while len(out) < count:
        if version == 4:
            net = ipaddress.ip_network((rng.getrandbits(24) << 8, 24))
        else:
            # global unicast 2000::/3, half of them where the sample
            # database has data (2400::/12 … 2c00::/12)
            top = (0x2400 + 0x200 * rng.randrange(5)) if rng.random() < 0.5 \
                else 0x2000 | rng.getrandbits(13)
            bits = top << 32 | rng.getrandbits(32)
            net = ipaddress.ip_network((bits << 80, 48))
        if net.network_address.is_global and not net.network_address.is_multicast:
            out.append(str(net))
    return out


def ask(port, prefixes):
    """prefix → (scope, answer text) from the server at port."""
    got = {}

    def on_answer(tag, resp):
        if resp is None or not resp.ecs:
            got[tag] = None
            return
        got[tag] = (resp.ecs[0][2], " ".join(sorted(resp.addresses())))

    queries = [(p, QNAME, "A", [(dnsclient.ECS_CODE, dnsclient.ecs_data(p))])
               for p in prefixes]
    dnsclient.Batch("127.0.0.1", port, window=16).run(queries, on_answer)
    return got


def inside(rng, prefix, scope):
    """A random client prefix of prefix's length inside prefix/scope."""
    net = ipaddress.ip_network(prefix)
    width = net.max_prefixlen
    base = int(net.network_address) >> (width - scope) << (width - scope)
    rand = rng.getrandbits(width - scope) if scope < width else 0
    addr = (base | rand) >> (width - net.prefixlen) << (width - net.prefixlen)
    return str(ipaddress.ip_network((addr, net.prefixlen)))


def main():
    gv_port, gd_port = int(sys.argv[1]), int(sys.argv[2])
    n4 = int(sys.argv[3]) if len(sys.argv) > 3 else 2000
    n6 = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    rng = random.Random(20261129)
    failed = 0
    for version, count in ((4, n4), (6, n6)):
        prefixes = sample(rng, count, version)
        gv, gd = ask(gv_port, prefixes), ask(gd_port, prefixes)
        narrower = equal = wider = differ = lost = 0
        for p in prefixes:
            a, b = gv.get(p), gd.get(p)
            if a is None or b is None:
                lost += 1
                continue
            differ += a[1] != b[1]
            if a[0] < b[0]:
                wider += 1
            elif a[0] == b[0]:
                equal += 1
            else:
                narrower += 1
        # truthful: three other clients inside each claimed prefix
        probes = {}
        for p in prefixes:
            if gv.get(p) is None:
                continue
            for _ in range(3):
                probes.setdefault(inside(rng, p, min(gv[p][0], int(p.split("/")[1]))), p)
        got = ask(gv_port, list(probes))
        untrue = sum(1 for q, p in probes.items()
                     if got.get(q) is not None and got[q][1] != gv[p][1])
        fam = "IPv4 /24" if version == 4 else "IPv6 /48"
        print("scopes %s: %d clients; geovip vs gdnsd scope: %d narrower, "
              "%d equal, %d wider; %d answers differ; %d lost; "
              "%d probes inside geovip's scopes, %d untruthful"
              % (fam, len(prefixes), narrower, equal, wider, differ, lost,
                 len(probes), untrue))
        failed += narrower + untrue
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
