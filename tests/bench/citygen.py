#!/usr/bin/env python3
# tests/bench/citygen.py — a seeded synthetic MaxMind DB shaped like
# GeoLite2-City (which cannot be committed or, here, downloaded): N IPv4
# networks of /16../32 (most /20../24), N/6 IPv6 ones of /32../64 in
# 4096 allocations in 2000::/3, the
# IPv4 tree aliased under ::ffff:0:0/96, 2001::/32 and 2002::/16 as
# MaxMind does, record size 28, and city records with names, location,
# postal code and time zone (a few hundred bytes each). Stdlib only; the
# encoders are tests/fuzz/make-geo-corpus.py's.
#
#   citygen.py [--networks N] [--cities C] [--seed S] OUT.mmdb
import argparse
import importlib.util
import os
import random
import struct
from array import array

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    'corpus', os.path.join(HERE, '..', 'fuzz', 'make-geo-corpus.py'))
m = importlib.util.module_from_spec(spec)
spec.loader.exec_module(m)
DOUBLE = 3

COUNTRIES = [('NA', 'US'), ('NA', 'CA'), ('NA', 'MX'), ('SA', 'BR'),
             ('SA', 'AR'), ('EU', 'DE'), ('EU', 'FR'), ('EU', 'GB'),
             ('EU', 'IT'), ('EU', 'ES'), ('EU', 'PL'), ('EU', 'NL'),
             ('AF', 'ZA'), ('AF', 'NG'), ('AF', 'EG'), ('AS', 'JP'),
             ('AS', 'CN'), ('AS', 'IN'), ('AS', 'SG'), ('AS', 'KR'),
             ('OC', 'AU'), ('OC', 'NZ'), ('AN', 'AQ')]


def names(base):
    langs = ['de', 'en', 'es', 'fr', 'ja', 'pt-BR', 'ru', 'zh-CN']
    out = m.ctrl(m.MAP, len(langs))
    for lang in langs:
        out += m.s(lang) + m.s('%s-%s' % (base, lang))
    return out


def city_record(rng, i):
    cont, cc = COUNTRIES[i % len(COUNTRIES)]
    lat, lon = rng.uniform(-80, 80), rng.uniform(-180, 180)
    return (m.ctrl(m.MAP, 6)
            + m.s('city') + m.ctrl(m.MAP, 2)
            + m.s('geoname_id') + m.uint(m.U32, 1000000 + i)
            + m.s('names') + names('City%d' % i)
            + m.s('continent') + m.ctrl(m.MAP, 3) + m.s('code') + m.s(cont)
            + m.s('geoname_id') + m.uint(m.U32, 6255148)
            + m.s('names') + names('Continent' + cont)
            + m.s('country') + m.ctrl(m.MAP, 3) + m.s('iso_code') + m.s(cc)
            + m.s('geoname_id') + m.uint(m.U32, 2000000 + i % 250)
            + m.s('names') + names('Country' + cc)
            + m.s('location') + m.ctrl(m.MAP, 4)
            + m.s('accuracy_radius') + m.uint(m.U16, 20 + i % 980)
            + m.s('latitude') + m.ctrl(DOUBLE, 8) + struct.pack('>d', lat)
            + m.s('longitude') + m.ctrl(DOUBLE, 8) + struct.pack('>d', lon)
            + m.s('time_zone') + m.s('Region/City_%d' % (i % 400))
            + m.s('postal') + m.ctrl(m.MAP, 1)
            + m.s('code') + m.s('%05d' % (i % 100000))
            + m.s('registered_country') + m.ctrl(m.MAP, 2)
            + m.s('geoname_id') + m.uint(m.U32, 2000000 + i % 250)
            + m.s('iso_code') + m.s(cc))


class Trie:
    """Nodes in two arrays; a child is a node index (>= 0), -1 for no
    data, or -2 - k for city record k."""

    def __init__(self):
        self.left, self.right = array('q', [-1]), array('q', [-1])

    def child(self, n, b):
        return self.right[n] if b else self.left[n]

    def set(self, n, b, v):
        if b:
            self.right[n] = v
        else:
            self.left[n] = v

    def descend(self, n, b):
        c = self.child(n, b)
        if c < 0:  # split a leaf: both halves keep its value
            self.left.append(c)
            self.right.append(c)
            c = len(self.left) - 1
            self.set(n, b, c)
        return c

    def insert(self, bits, length, value):
        n = 0
        for i in range(length - 1):
            n = self.descend(n, (bits >> (127 - i)) & 1)
        self.set(n, (bits >> (127 - (length - 1))) & 1, value)


def walk(rng, start, end, n, lens, bits):
    """About n aligned networks (address, length) in [start, end), in
    order, with random gaps between runs of neighbours."""
    step = (end - start) // n
    cursor = start
    while True:
        ln = rng.choice(lens)
        size = 1 << (bits - ln)
        cursor = (cursor + size - 1) // size * size
        if cursor + size > end:
            return
        yield cursor, ln
        cursor += size
        # half the time a neighbour follows; else a gap, as long on
        # average as keeps about n networks in the range
        if rng.random() < 0.5 and step > size:
            cursor += rng.randrange(4 * (step - size))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--networks', type=int, default=1500000)
    ap.add_argument('--cities', type=int, default=60000)
    ap.add_argument('--seed', type=int, default=8)
    ap.add_argument('out')
    a = ap.parse_args()
    rng = random.Random(a.seed)

    data, offs = bytearray(), []
    for i in range(a.cities):
        offs.append(len(data))
        data += city_record(rng, i)

    nets = []
    # IPv4: adjacent networks walked through 1/8..223/8 (MaxMind's City
    # splits the space into runs of neighbours with different cities)
    v4_lens = [16, 18, 19, 20, 21, 22, 22, 23, 23, 24, 24, 24, 24, 24,
               25, 26, 27, 28, 29, 30, 32]
    for addr, ln in walk(rng, 1 << 24, 224 << 24, a.networks, v4_lens, 32):
        nets.append((96 + ln, addr, rng.randrange(a.cities)))
    # IPv6: the same inside 4096 /32 allocations in 2000::/3
    v6_lens = [36, 40, 44, 46, 48, 48, 48, 48, 56, 64]
    bases = sorted({(0x2000 | rng.getrandbits(13)) << 16 | rng.getrandbits(16)
                    for _ in range(4096)})
    per = max(1, a.networks // 6 // len(bases))
    for base in bases:
        nets.append((32, base << 96, rng.randrange(a.cities)))
        for addr, ln in walk(rng, 0, 1 << 32, per, v6_lens, 64):
            nets.append((ln, base << 96 | addr << 64,
                         rng.randrange(a.cities)))
    nets.sort()  # shorter prefixes first: longer ones override inside
    t = Trie()
    for ln, addr, k in nets:
        t.insert(addr, ln, -2 - k)
    # the IPv4 tree at ::/96, aliased as MaxMind does
    n = 0
    for _ in range(96):
        n = t.descend(n, 0)
    v4root = n
    for prefix, ln in ((0xffff << 32, 96), (0x2002 << 112, 16),
                       (0x20010000 << 96, 32)):
        n = 0
        for i in range(ln - 1):
            n = t.descend(n, (prefix >> (127 - i)) & 1)
        t.set(n, (prefix >> (127 - (ln - 1))) & 1, v4root)

    count = len(t.left)

    def enc(v):
        if v >= 0:
            return v
        if v == -1:
            return count
        return count + 16 + offs[-2 - v]

    assert count + 16 + len(data) < 1 << 28
    tree = bytearray()
    for i in range(count):
        left, right = enc(t.left[i]), enc(t.right[i])
        tree += (left & 0xffffff).to_bytes(3, 'big')
        tree.append((left >> 24) << 4 | right >> 24)
        tree += (right & 0xffffff).to_bytes(3, 'big')
    with open(a.out, 'wb') as f:
        f.write(tree)
        f.write(bytes(16))
        f.write(data)
        f.write(m.meta(count, record_size=28, ip_version=6,
                       db_type='GeoLite2-City'))
    print('%s: %d networks, %d cities, %d nodes, %d bytes'
          % (a.out, len(nets), a.cities, count,
             count * 7 + 16 + len(data)))


if __name__ == '__main__':
    main()
