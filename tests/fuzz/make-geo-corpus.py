#!/usr/bin/env python3
# tests/fuzz/make-geo-corpus.py — writes the seed corpus of fuzz_geo
# (corpus/geo): the sample databases, cuts of them, and small crafted
# databases (deep nesting, pointer loops, an ASN database, record sizes 28
# and 32); stdlib only. Files it does not write (saved crashes) are left
# alone. Usage: tests/fuzz/make-geo-corpus.py [OUTDIR]
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.join(HERE, '..', '..')
MARKER = b'\xab\xcd\xefMaxMind.com'
PTR, STR, U16, U32, MAP, U64, ARRAY = 1, 2, 5, 6, 7, 9, 11


def ctrl(t, size):
    """Control byte(s) of a value of type t and size (MaxMind DB spec)."""
    first = t << 5 if t <= 7 else 0
    if size < 29:
        first, extra = first | size, b''
    elif size < 285:
        first, extra = first | 29, bytes([size - 29])
    elif size < 65821:
        first, extra = first | 30, (size - 285).to_bytes(2, 'big')
    else:
        first, extra = first | 31, (size - 65821).to_bytes(3, 'big')
    return bytes([first]) + (bytes([t - 7]) if t > 7 else b'') + extra


def s(text):
    return ctrl(STR, len(text)) + text.encode()


def uint(t, v):
    b = v.to_bytes((v.bit_length() + 7) // 8, 'big')
    return ctrl(t, len(b)) + b


def ptr(off):
    assert off < 2048
    return bytes([0x20 | off >> 8, off & 0xff])


def meta(node_count, record_size=24, ip_version=4, db_type='Crafted'):
    return (MARKER + ctrl(MAP, 9)
            + s('binary_format_major_version') + uint(U16, 2)
            + s('binary_format_minor_version') + uint(U16, 0)
            + s('database_type') + s(db_type)
            + s('description') + ctrl(MAP, 0)
            + s('ip_version') + uint(U16, ip_version)
            + s('languages') + ctrl(ARRAY, 0)
            + s('node_count') + uint(U32, node_count)
            + s('record_size') + uint(U16, record_size)
            + s('build_epoch') + uint(U64, 1700000000))


def one(data, db_type='Crafted'):
    """IPv4, one node: 0/1 → the record at data offset 0, 128/1 → none."""
    tree = (17).to_bytes(3, 'big') + (1).to_bytes(3, 'big')
    return tree + bytes(16) + data + meta(1, db_type=db_type)


def located(extra):
    """A record with a continent and whatever extra key/values follow."""
    return (ctrl(MAP, 2) + s('continent') + ctrl(MAP, 1) + s('code')
            + s('EU') + extra)


def reencode(db, record_size, ip_version):
    """db (record size 24) with the tree written in record_size bits."""
    end = db.rindex(MARKER)
    after = db[end:].split(b'node_count')[1]
    assert after[0] >> 5 == U32
    nodes = int.from_bytes(after[1:1 + (after[0] & 0x1f)], 'big')
    tree = b''
    for n in range(nodes):
        left = int.from_bytes(db[n * 6:n * 6 + 3], 'big')
        right = int.from_bytes(db[n * 6 + 3:n * 6 + 6], 'big')
        if record_size == 28:
            tree += (left & 0xffffff).to_bytes(3, 'big')
            tree += bytes([(left >> 24) << 4 | right >> 24])
            tree += (right & 0xffffff).to_bytes(3, 'big')
        else:
            tree += left.to_bytes(4, 'big') + right.to_bytes(4, 'big')
    return (tree + db[nodes * 6:end]
            + meta(nodes, record_size, ip_version, 'Reencoded'))


def seeds():
    out = {}
    with open(os.path.join(TOP, 'geo', 'sample.mmdb'), 'rb') as f:
        sample = f.read()
    with open(os.path.join(TOP, 'tests', 'fixtures', 'geo',
                           'v4only.mmdb'), 'rb') as f:
        v4only = f.read()
    out['sample'] = sample
    out['v4only'] = v4only
    for frac in (10, 50, 90, 99):
        out['cut-%d-percent' % frac] = sample[:len(sample) * frac // 100]
    out['cut-last-byte'] = sample[:-1]
    out['rs28'] = reencode(sample, 28, 6)
    out['rs32'] = reencode(v4only, 32, 4)
    # 1000 levels: refused (512 at most); 2,000,000 crashed libmaxminddb
    out['deep-1000'] = one(located(s('note') + (ctrl(MAP, 1) + s('a')) * 1000
                                   + ctrl(MAP, 0)))
    out['deep-500'] = one(located(s('note') + (ctrl(MAP, 1) + s('a')) * 500
                                  + ctrl(MAP, 0)))
    out['ptr-self'] = one(ptr(0))
    out['ptr-key-loop'] = one(ctrl(MAP, 1) + ptr(0) + s('x'))
    out['ptr-continent-loop'] = one(ctrl(MAP, 1) + s('continent') + ptr(0))
    out['ptr-past-end'] = one(ctrl(MAP, 1) + s('country') + ptr(1000))
    out['asn'] = one(ctrl(MAP, 2) + s('autonomous_system_number')
                     + uint(U32, 15169) + s('autonomous_system_organization')
                     + s('GOOGLE'), 'GeoLite2-ASN')
    out['country-code-only'] = one(ctrl(MAP, 1) + s('country_code') + s('se'))
    out['empty'] = b''
    out['marker-only'] = MARKER
    return out


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'corpus')
    d = os.path.join(outdir, 'geo')
    os.makedirs(d, exist_ok=True)
    all_seeds = seeds()
    for label, data in sorted(all_seeds.items()):
        with open(os.path.join(d, label), 'wb') as f:
            f.write(data)
    print('%s: %d seeds' % (d, len(all_seeds)))


if __name__ == '__main__':
    main()
