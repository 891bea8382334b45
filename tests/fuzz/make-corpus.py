#!/usr/bin/env python3
# tests/fuzz/make-corpus.py — writes the seed corpora of the fuzz targets
# (corpus/query, corpus/edns, corpus/config) from the fixtures; stdlib only.
# Re-run after changing a fixture; files it does not write (saved crashes)
# are left alone. Usage: tests/fuzz/make-corpus.py [OUTDIR]
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'fixtures')

TYPES = {'A': 1, 'NS': 2, 'CNAME': 5, 'SOA': 6, 'PTR': 12, 'MX': 15,
         'TXT': 16, 'AAAA': 28, 'SRV': 33, 'OPT': 41, 'DS': 43,
         'RRSIG': 46, 'DNSKEY': 48, 'TYPE65280': 65280, 'IXFR': 251,
         'AXFR': 252, 'ANY': 255}
CLASS_IN, CLASS_CH, CLASS_ANY = 1, 3, 255
OPCODE_NOTIFY, OPCODE_UPDATE, OPCODE_STATUS = 4, 5, 2


def name(text):
    """Wire form of a dotted name (no compression)."""
    out = b''
    for label in text.rstrip('.').split('.'):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b'\0'


def header(qid=0x1234, flags=0, qd=1, an=0, ns=0, ar=0, opcode=0,
           rd=False, qr=False):
    flags |= (opcode & 0xf) << 11
    if rd:
        flags |= 0x0100
    if qr:
        flags |= 0x8000
    return struct.pack('!HHHHHH', qid, flags, qd, an, ns, ar)


def question(qname, qtype='A', qclass=CLASS_IN):
    t = TYPES[qtype] if isinstance(qtype, str) else qtype
    return name(qname) + struct.pack('!HH', t, qclass)


def option(code, data):
    return struct.pack('!HH', code, len(data)) + data


def ecs(family, source, addr, scope=0, addr_len=None):
    """An ECS option; addr is bytes, cut to ceil(source/8) unless given."""
    n = (source + 7) // 8 if addr_len is None else addr_len
    return option(8, struct.pack('!HBB', family, source, scope) + addr[:n])


def v4(text):
    return bytes(int(x) for x in text.split('.'))


def v6(text):
    import ipaddress
    return ipaddress.IPv6Address(text).packed


def opt(udp=1232, version=0, do=False, ext_rcode=0, options=b'',
        owner=b'\0'):
    ttl = ext_rcode << 24 | version << 16 | (0x8000 if do else 0)
    return owner + struct.pack('!HHIH', 41, udp, ttl, len(options)) + options


def query(qname, qtype='A', qclass=CLASS_IN, edns=None, **hdr):
    ar = hdr.pop('ar', 1 if edns is not None else 0)
    msg = header(ar=ar, **hdr) + question(qname, qtype, qclass)
    return msg + (edns if edns is not None else b'')


# ---- DNS cookies (RFC 7873, server cookies as RFC 9018) ----
# fuzz_query answers at FUZZ_NOW from SOURCE_V4 with the fixture's secrets
# (tests/fixtures/query/geovip.yaml), so these server cookies check there.
FUZZ_NOW = 1700000000
COOKIE_SECRET = bytes.fromhex('e5e973e5a6b2a43f48e7dc849e37bfcf')
COOKIE_PREVIOUS = bytes.fromhex('dd3bdf9344b678b185a6f5cb60fca715')
COOKIE_OTHER = bytes.fromhex('00112233445566778899aabbccddeeff')
CLIENT_COOKIE = bytes.fromhex('2464c4abcf10c957')


def siphash24(key, data):
    """SipHash-2-4 (Aumasson, Bernstein) as a little-endian 8-byte string."""
    mask = (1 << 64) - 1

    def rotl(x, b):
        return ((x << b) | (x >> (64 - b))) & mask

    def rounds(v, n):
        for _ in range(n):
            v[0] = (v[0] + v[1]) & mask; v[1] = rotl(v[1], 13); v[1] ^= v[0]
            v[0] = rotl(v[0], 32)
            v[2] = (v[2] + v[3]) & mask; v[3] = rotl(v[3], 16); v[3] ^= v[2]
            v[0] = (v[0] + v[3]) & mask; v[3] = rotl(v[3], 21); v[3] ^= v[0]
            v[2] = (v[2] + v[1]) & mask; v[1] = rotl(v[1], 17); v[1] ^= v[2]
            v[2] = rotl(v[2], 32)
    k0, k1 = struct.unpack('<QQ', key)
    v = [k0 ^ 0x736f6d6570736575, k1 ^ 0x646f72616e646f6d,
         k0 ^ 0x6c7967656e657261, k1 ^ 0x7465646279746573]
    tail = len(data) % 8
    padded = data[:len(data) - tail] + data[len(data) - tail:] + \
        b'\0' * (7 - tail) + bytes([len(data) & 0xff])
    for i in range(0, len(padded), 8):
        m = struct.unpack('<Q', padded[i:i + 8])[0]
        v[3] ^= m
        rounds(v, 2)
        v[0] ^= m
    v[2] ^= 0xff
    rounds(v, 4)
    return struct.pack('<Q', v[0] ^ v[1] ^ v[2] ^ v[3])


def server_cookie(secret, client_cookie, client_addr, stamp):
    """RFC 9018 §4: version 1, reserved, timestamp, SipHash-2-4."""
    head = struct.pack('!B3xI', 1, stamp)
    return head + siphash24(secret, client_cookie + head + client_addr)


# RFC 9018 Appendix A.1: a wrong SipHash would make every seed below useless
assert server_cookie(COOKIE_SECRET, CLIENT_COOKIE, bytes([198, 51, 100, 100]),
                     1559731985).hex() == '010000005cf79f111f8130c3eee29480'


def cookie_seeds():
    s = {}
    www = 'www.example.com.'
    src = bytes([203, 0, 113, 7])  # fuzz_query's SOURCE_V4

    def cookie(secret, stamp):
        return option(10, CLIENT_COOKIE +
                      server_cookie(secret, CLIENT_COOKIE, src, stamp))
    s['cookie-client-only'] = query(www, 'A', edns=opt(options=option(
        10, CLIENT_COOKIE)))
    s['cookie-valid'] = query(www, 'A', edns=opt(
        options=cookie(COOKIE_SECRET, FUZZ_NOW - 60)))
    s['cookie-valid-renew'] = query(www, 'A', edns=opt(
        options=cookie(COOKIE_SECRET, FUZZ_NOW - 2000)))
    s['cookie-previous-secret'] = query(www, 'AAAA', edns=opt(
        options=cookie(COOKIE_PREVIOUS, FUZZ_NOW - 60)))
    s['cookie-expired'] = query(www, 'A', edns=opt(
        options=cookie(COOKIE_SECRET, FUZZ_NOW - 3601)))
    s['cookie-future'] = query(www, 'A', edns=opt(
        options=cookie(COOKIE_SECRET, FUZZ_NOW + 301)))
    s['cookie-wrong-secret'] = query(www, 'A', edns=opt(
        options=cookie(COOKIE_OTHER, FUZZ_NOW)))
    s['cookie-valid-ecs'] = query(www, 'A', edns=opt(
        options=ecs(1, 24, v4('198.51.100.0')) +
        cookie(COOKIE_SECRET, FUZZ_NOW)))
    s['cookie-valid-do-big'] = query('big.example.com.', 'TXT', edns=opt(
        512, do=True, options=cookie(COOKIE_SECRET, FUZZ_NOW)))
    s['cookie-valid-badvers'] = query(www, 'A', edns=opt(
        version=1, options=cookie(COOKIE_SECRET, FUZZ_NOW)))
    s['cookie-valid-notify'] = query(www, 'SOA', opcode=OPCODE_NOTIFY,
                                     edns=opt(options=cookie(COOKIE_SECRET,
                                                             FUZZ_NOW)))
    s['cookie-twice'] = query(www, 'A', edns=opt(options=option(
        10, CLIENT_COOKIE) * 2))
    for n in [0, 7, 9, 15, 16, 40, 41]:
        s['cookie-len%d' % n] = query(www, 'A', edns=opt(options=option(
            10, (CLIENT_COOKIE + b'\1' * 40)[:n])))
    return s


def query_seeds():
    s = {}
    com = 'example.com.'
    for t in ['A', 'AAAA', 'MX', 'TXT', 'ANY', 'NS', 'SOA', 'DS', 'AXFR',
              'IXFR', 'CNAME', 'PTR', 'SRV', 'DNSKEY', 'RRSIG', 'TYPE65280',
              'OPT']:
        s['apex-' + t.lower()] = query(com, t)
        s['apex-' + t.lower() + '-edns'] = query(com, t, edns=opt())
    s['ch-txt-version.bind'] = query('version.bind.', 'TXT', CLASS_CH)
    s['ch-txt-id.server'] = query('id.server.', 'TXT', CLASS_CH)
    s['ch-a-example.com'] = query(com, 'A', CLASS_CH)
    s['ch-any-hostname.bind'] = query('hostname.bind.', 'ANY', CLASS_CH)
    s['ch-txt-version.server-nsid'] = query('version.server.', 'TXT', CLASS_CH,
                                            edns=opt(options=option(3, b'')))
    # NSID (RFC 5001): empty, with data (ignored), beside ECS, cut short
    s['nsid-empty'] = query('www.example.com.', 'A', edns=opt(options=option(3, b'')))
    s['nsid-with-data-ecs'] = query(
        'www.example.com.', 'A',
        edns=opt(options=option(3, b'abc') + ecs(1, 24, v4('198.51.100.0'))))
    s['nsid-cut-short'] = query('www.example.com.', 'A',
                                edns=opt(options=b'\0\3\0'))
    s['class-any'] = query(com, 'A', CLASS_ANY)
    s['class-none-254'] = query(com, 'SOA', 254)

    # regional names, plain and as wildcards, in both zones
    for q, t in [('www.example.com.', 'A'), ('www.example.com.', 'AAAA'),
                 ('www.example.com.', 'TXT'), ('www.example.com.', 'ANY'),
                 ('api.example.com.', 'A'), ('api.example.com.', 'AAAA'),
                 ('x.edge.example.com.', 'A'),
                 ('a.b.edge.example.com.', 'AAAA'),
                 ('deep.www.example.com.', 'A'),
                 ('www.example.net.', 'A'), ('www.example.net.', 'AAAA'),
                 ('WwW.ExAmPlE.CoM.', 'A'), ('mixed.example.com.', 'TXT')]:
        s['regional-%s-%s' % (q.rstrip('.').lower(), t.lower())] = \
            query(q, t, rd=True)
        s['regional-%s-%s-do' % (q.rstrip('.').lower(), t.lower())] = \
            query(q, t, edns=opt(4096, do=True))
    # wildcards, CNAME chains, delegation, other zones, errors
    for label, q, t in [
            ('wild-txt', 'foo.wild.example.com.', 'TXT'),
            ('wild-a', 'a.b.wild.example.com.', 'A'),
            ('wild-star', '*.wild.example.com.', 'TXT'),
            ('cname-shop', 'shop.example.com.', 'A'),
            ('cname-alias', 'alias.example.com.', 'AAAA'),
            ('cname-ext', 'ext.example.com.', 'A'),
            ('cname-loop', 'loop1.example.com.', 'A'),
            ('cname-dangling', 'dangling.example.com.', 'A'),
            ('cname-query', 'shop.example.com.', 'CNAME'),
            ('deleg-ns', 'sub.example.com.', 'NS'),
            ('deleg-below', 'host.sub.example.com.', 'A'),
            ('deleg-glue', 'ns.sub.example.com.', 'A'),
            ('deleg-ds', 'sub.example.com.', 'DS'),
            ('sub2-host', 'host.sub2.example.com.', 'A'),
            ('sub2-apex', 'sub2.example.com.', 'SOA'),
            ('net-apex', 'example.net.', 'NS'),
            ('empty-nonterminal', 'b.c.example.com.', 'TXT'),
            ('nxdomain', 'nothere.example.com.', 'A'),
            ('nodata', 'mail.example.com.', 'AAAA'),
            ('refused-org', 'example.org.', 'A'),
            ('refused-root', '.', 'NS'),
            ('big-txt', 'big.example.com.', 'TXT')]:
        s[label] = query(q, t)
        s[label + '-edns'] = query(q, t, edns=opt(1232, do=True))
    s['big-txt-edns512'] = query('big.example.com.', 'TXT', edns=opt(512))
    s['big-txt-edns4096'] = query('big.example.com.', 'TXT', edns=opt(4096))
    s['big-txt-edns600'] = query('big.example.com.', 'TXT', edns=opt(600))
    s['any-edns-4096'] = query(com, 'ANY', edns=opt(4096))

    # EDNS variants
    www = 'www.example.com.'
    for udp in [0, 1, 511, 512, 1232, 1233, 4096, 65535]:
        s['edns-udp%d' % udp] = query(www, 'A', edns=opt(udp))
    s['edns-badvers1'] = query(www, 'A', edns=opt(version=1))
    s['edns-badvers255-ecs'] = query(
        www, 'A', edns=opt(version=255, options=ecs(1, 24, v4('8.8.8.0'))))
    s['edns-extrcode'] = query(www, 'A', edns=opt(ext_rcode=7))
    s['edns-cookie'] = query(www, 'A', edns=opt(options=option(10, b'\1' * 8)))
    s['edns-padding'] = query(www, 'A', edns=opt(options=option(12, b'\0' * 40)))
    s['edns-nsid-ecs-cookie'] = query(www, 'A', edns=opt(options=option(
        3, b'') + ecs(1, 24, v4('192.0.2.0')) + option(10, b'\2' * 16)))
    s['edns-owner-not-root'] = query(www, 'A', edns=opt(owner=name('x.')))
    s['edns-two-opt'] = query(www, 'A', edns=opt() + opt(4096), ar=2)
    s['edns-opt-and-tsig-like'] = query(
        www, 'A', edns=opt() + name('key.') +
        struct.pack('!HHIH', 250, 255, 0, 4) + b'abcd', ar=2)
    s['edns-option-overrun'] = query(
        www, 'A', edns=b'\0' + struct.pack('!HHIH', 41, 1232, 0, 6) +
        struct.pack('!HH', 8, 40) + b'\1\0')
    s['edns-option-short-head'] = query(
        www, 'A', edns=b'\0' + struct.pack('!HHIH', 41, 1232, 0, 3) + b'\0\10\0')

    # ECS, IPv4: prefix lengths and regions
    for addr, source in [('192.0.2.0', 24), ('192.0.2.128', 25),
                         ('192.0.2.192', 26), ('198.51.100.0', 24),
                         ('198.51.100.128', 25), ('203.0.113.0', 24),
                         ('127.0.7.0', 24), ('127.0.3.0', 24),
                         ('1.0.0.0', 24), ('8.8.8.8', 32), ('2.16.0.0', 13),
                         ('10.0.0.0', 8), ('10.1.2.0', 24),
                         ('192.168.1.0', 24), ('0.0.0.0', 0),
                         ('203.0.0.0', 16), ('128.0.0.0', 1)]:
        for qt in ['A', 'AAAA']:
            s['ecs4-%s-%d-%s' % (addr, source, qt.lower())] = query(
                www, qt, edns=opt(options=ecs(1, source, v4(addr))))
    s['ecs4-edge-wild'] = query('x.edge.example.com.', 'A', edns=opt(
        options=ecs(1, 24, v4('203.0.113.0'))))
    s['ecs4-cname-to-regional'] = query('alias.example.com.', 'A', edns=opt(
        options=ecs(1, 24, v4('198.51.100.0'))))
    s['ecs4-nxdomain'] = query('nothere.example.com.', 'A', edns=opt(
        options=ecs(1, 24, v4('198.51.100.0'))))
    s['ecs4-refused'] = query('example.org.', 'A', edns=opt(
        options=ecs(1, 24, v4('198.51.100.0'))))
    s['ecs4-notify'] = query(com, 'SOA', opcode=OPCODE_NOTIFY, edns=opt(
        options=ecs(1, 24, v4('198.51.100.0'))))

    # ECS, IPv6: native and IPv4-carrying forms
    for label, addr, source in [
            ('native-48', '2001:db8:2::', 48), ('native-56', '2001:db8:3::', 56),
            ('native-64', '2001:db8:1::', 64), ('native-128', '2001:db8:1::1', 128),
            ('native-0', '::', 0), ('native-32', '2001:db8::', 32),
            ('override', '2001:db8:ffff::', 48),
            ('loopback', '::1', 128), ('ula', 'fd00::', 8),
            ('linklocal', 'fe80::', 10),
            ('mapped-128', '::ffff:203.0.113.7', 128),
            ('mapped-120', '::ffff:203.0.113.0', 120),
            ('mapped-96', '::ffff:0:0', 96),
            ('mapped-104', '::ffff:203.0.0.0', 104),
            ('mapped-private', '::ffff:10.1.2.3', 128),
            ('nat64-128', '64:ff9b::cb00:7107', 128),
            ('nat64-120', '64:ff9b::c633:6400', 120),
            ('nat64-96', '64:ff9b::', 96),
            ('6to4-48', '2002:cb00:7100::', 48),
            ('6to4-40', '2002:c633:6400::', 40),
            ('6to4-16', '2002::', 16),
            ('6to4-private', '2002:0a01:0203::', 48),
            ('teredo-128', '2001:0:4136:e378:8000:63bf:34ff:8ef8', 128),
            ('teredo-120', '2001:0:4136:e378:8000:63bf:3fff:fd00', 120),
            ('teredo-32', '2001::', 32)]:
        for qt in ['A', 'AAAA']:
            s['ecs6-%s-%s' % (label, qt.lower())] = query(
                www, qt, edns=opt(options=ecs(2, source, v6(addr))))

    # invalid ECS: each must be FORMERR without ECS
    bad = {
        'family3': ecs(3, 24, v4('192.0.2.0')),
        'family0': ecs(0, 0, b''),
        'v4-source33': ecs(1, 33, v4('192.0.2.1') + b'\0'),
        'v6-source129': ecs(2, 129, v6('2001:db8::') + b'\0'),
        'addr-too-long': ecs(1, 24, v4('192.0.2.0'), addr_len=4),
        'addr-too-short': ecs(1, 24, v4('192.0.2.0'), addr_len=2),
        'host-bits': ecs(1, 23, v4('192.0.3.0')),
        'host-bits-v6': ecs(2, 33, v6('2001:db8:8000::'), addr_len=5),
        'scope-nonzero': ecs(1, 24, v4('192.0.2.0'), scope=24),
        'two-ecs': ecs(1, 24, v4('192.0.2.0')) + ecs(1, 16, v4('192.0.0.0')),
        'len-lt-4': option(8, b'\0\1\30'),
        'len-0': option(8, b''),
    }
    for label, o in bad.items():
        s['ecs-bad-' + label] = query(www, 'A', edns=opt(options=o))
    s['ecs-bad-with-badvers'] = query(
        www, 'A', edns=opt(version=1, options=bad['family3']))

    # structure: counts, opcodes, flags
    s['qdcount0'] = header(qd=0)
    s['qdcount0-edns'] = header(qd=0, ar=1) + opt()
    s['qdcount2'] = header(qd=2) + question(www) + question(com, 'SOA')
    s['qdcount2-edns'] = (header(qd=2, ar=1) + question(www) +
                          question(com, 'SOA') + opt())
    s['qdcount1-missing'] = header(qd=1)
    s['opcode-notify'] = query(com, 'SOA', opcode=OPCODE_NOTIFY)
    s['opcode-notify-soa'] = (header(opcode=OPCODE_NOTIFY, an=1) +
                              question(com, 'SOA') + b'\xc0\x0c' +
                              struct.pack('!HHIH', 6, 1, 3600, 22) +
                              b'\0\0' + struct.pack('!IIIII', 1, 2, 3, 4, 5))
    s['opcode-update'] = query(com, 'SOA', opcode=OPCODE_UPDATE)
    s['opcode-status'] = query(com, 'A', opcode=OPCODE_STATUS)
    s['opcode-15-edns'] = query(com, 'A', opcode=15, edns=opt())
    s['qr-set'] = query(www, 'A', qr=True)
    s['qr-set-edns'] = query(www, 'A', qr=True, edns=opt())
    s['all-flags'] = query(www, 'A', flags=0x7ff0)
    s['rcode-in-query'] = query(www, 'A', flags=0x0005)
    s['ancount-nonzero'] = (header(an=1) + question(www) + b'\xc0\x0c' +
                            struct.pack('!HHIH', 1, 1, 60, 4) + v4('1.2.3.4'))
    s['nscount-unread'] = header(ns=3) + question(www)
    s['arcount-unread'] = header(ar=2) + question(www) + opt()
    s['header-only-zero'] = b'\0' * 12
    s['runt-11'] = b'\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00'
    s['empty'] = b''

    # names: pointers, loops, bad labels, lengths
    h = header()
    s['name-pointer-self'] = h + b'\xc0\x0c' + struct.pack('!HH', 1, 1)
    s['name-pointer-forward'] = h + b'\xc0\x10\0\1\0\1' + name('www.example.com.')
    s['name-pointer-header'] = h + b'\xc0\x00' + struct.pack('!HH', 1, 1)
    s['name-pointer-loop2'] = (h + b'\x03www\xc0\x12' + b'\x03abc\xc0\x0c' +
                               struct.pack('!HH', 1, 1))
    s['name-pointer-in-question'] = (header() + b'\x03www\xc0\x1c' +
                                     struct.pack('!HH', 1, 1) +
                                     name('example.com.'))
    s['opt-owner-pointer-loop'] = (header(ar=1) + question(www) +
                                   b'\xc0' + bytes([12 + len(name(www)) + 4]) +
                                   struct.pack('!HHIH', 41, 1232, 0, 0))
    s['opt-owner-pointer-qname'] = (header(ar=1) + question(www) + b'\xc0\x0c' +
                                    struct.pack('!HHIH', 41, 1232, 0, 0))
    s['label-type-40'] = h + b'\x43abc\0' + struct.pack('!HH', 1, 1)
    s['label-type-80'] = h + b'\x83abc\0' + struct.pack('!HH', 1, 1)
    s['label-64'] = h + b'\x40' + b'a' * 64 + b'\0' + struct.pack('!HH', 1, 1)
    s['label-63'] = h + b'\x3f' + b'a' * 63 + name('example.com.') + \
        struct.pack('!HH', 1, 1)
    s['name-255'] = h + (b'\x3f' + b'a' * 63) * 3 + b'\x3d' + b'b' * 61 + \
        b'\0' + struct.pack('!HH', 1, 1)
    s['name-256'] = h + (b'\x3f' + b'a' * 63) * 3 + b'\x3e' + b'b' * 62 + \
        b'\0' + struct.pack('!HH', 1, 1)
    long_name = '.'.join(['x'] * 120) + '.www.example.com.'
    s['name-many-labels'] = h + name(long_name) + struct.pack('!HH', 1, 1)
    s['name-binary-label'] = h + b'\x04\0\xff.\x80' + name('example.com.') + \
        struct.pack('!HH', 1, 1)
    s['name-unterminated'] = h + b'\x03www\x07example'

    # truncated by one byte and with trailing garbage
    for base in ['apex-soa-edns', 'regional-www.example.com-a-do',
                 'ecs4-192.0.2.0-24-a', 'ecs6-mapped-128-aaaa',
                 'edns-cookie', 'big-txt']:
        s[base + '-cut1'] = s[base][:-1]
        s[base + '-trailing'] = s[base] + b'\xde\xad\xbe\xef'
    s['apex-soa-trailing-zero'] = s['apex-soa'] + b'\0'
    s.update(cookie_seeds())
    return s


def edns_seed(rr_class, ttl, flags, rdata):
    """Input of fuzz_edns: CLASS, TTL, a flags byte, the RDATA."""
    return struct.pack('!HIB', rr_class, ttl, flags) + rdata


def edns_seeds():
    s = {}
    s['empty'] = edns_seed(1232, 0, 1, b'')
    s['do-4096'] = edns_seed(4096, 0x8000, 3, b'')
    s['badvers'] = edns_seed(1232, 1 << 16, 1, b'')
    s['ecs4-24'] = edns_seed(1232, 0, 3, ecs(1, 24, v4('192.0.2.0')) + b'\0')
    s['ecs4-0'] = edns_seed(512, 0, 3, ecs(1, 0, b''))
    s['ecs4-32-scope'] = edns_seed(1232, 0, 3, ecs(1, 32, v4('8.8.8.8')) + b'\x20')
    s['ecs6-56'] = edns_seed(1232, 0x8000, 3, ecs(2, 56, v6('2001:db8:3::')))
    s['ecs6-128'] = edns_seed(65535, 0, 3, ecs(2, 128, v6('::ffff:1.2.3.4')))
    s['ecs-off'] = edns_seed(1232, 0, 0, ecs(1, 24, v4('192.0.2.0')))
    s['ecs-host-bits'] = edns_seed(1232, 0, 1, ecs(1, 20, v4('192.0.31.0')))
    s['ecs-two'] = edns_seed(1232, 0, 1, ecs(1, 8, v4('10.0.0.0')) * 2)
    s['ecs-short'] = edns_seed(1232, 0, 1, option(8, b'\0\1'))
    s['cookie-ecs'] = edns_seed(1232, 0, 3, option(10, b'\7' * 8) +
                                ecs(2, 48, v6('2001:db8:2::')))
    s['overrun'] = edns_seed(1232, 0, 1, struct.pack('!HH', 8, 300) + b'\0\1')
    for n in [0, 7, 8, 9, 15, 16, 24, 40, 41]:
        s['cookie-len%d' % n] = edns_seed(1232, 0, 3, option(
            10, (CLIENT_COOKIE + b'\1' * 40)[:n]))
    s['cookie-two'] = edns_seed(1232, 0, 3, option(10, CLIENT_COOKIE) * 2)
    s['ext-rcode'] = edns_seed(100, 0xff008000, 0xff, b'')
    return s


def config_seeds():
    s = {}
    for sub in ['config', 'check', 'query']:
        d = os.path.join(FIXTURES, sub)
        for f in sorted(os.listdir(d)):
            if f.endswith('.yaml'):
                with open(os.path.join(d, f), 'rb') as fh:
                    s['%s-%s' % (sub, f)] = fh.read()
    full = s['query-geovip.yaml']
    s['broken-truncated-half'] = full[:len(full) // 2]
    s['broken-truncated-1'] = full[:-1]
    s['broken-tabs'] = full.replace(b'  ', b'\t')
    s['broken-nul'] = full.replace(b'regions', b'reg\0ons')
    s['broken-bom'] = b'\xef\xbb\xbf' + full
    s['broken-latin1'] = full.replace(b'americas', b'am\xe9ricas')
    s['broken-two-docs'] = full + b'\n---\n' + full
    s['broken-flow'] = b'{listen: [127.0.0.1:53], regions: {a: {continents: [EU], vips: [192.0.2.1]}}, default_region: a, zones: []}\n'
    s['broken-anchors'] = (b'r: &r {continents: [EU], vips: [192.0.2.1]}\n'
                           b'regions: {a: *r, b: *r}\ndefault_region: a\n')
    s['broken-alias-loop'] = b'a: &a [*a]\nregions: *a\n'
    s['broken-deep'] = b'regions: ' + b'[' * 200 + b']' * 200 + b'\n'
    s['broken-dup-keys'] = full + b'\nregions: {}\n'
    s['broken-big-numbers'] = full + (b'\ntcp_idle_timeout: 99999999999999999999\n'
                                      b'workers: -1\n')
    s['broken-scalars'] = b'listen: 5\nregions: x\nzones: 7\nshed: [1]\necs: maybe\n'
    s['broken-tags'] = b'!!binary listen: !!set {a}\nregions: !custom x\n'
    s['broken-services'] = (
        b'regions: {a: {continents: [EU]}, b: {}}\ndefault_region: a\n'
        b'services: {w: {a: [192.0.2.1, 192.0.2.1], c: [1.2.3.4]}, e: {},'
        b' x: [1], "y z": {b: []}}\n'
        b'zones: [{origin: x., file: f, regional: {www: w, api: nope, v: [1]}}]\n')
    s['empty'] = b''
    s['only-comment'] = b'# nothing\n'
    return s


def write(outdir, sub, seeds):
    d = os.path.join(outdir, sub)
    os.makedirs(d, exist_ok=True)
    for label, data in sorted(seeds.items()):
        with open(os.path.join(d, label), 'wb') as f:
            f.write(data)
    print('%s: %d seeds' % (d, len(seeds)))


def main():
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, 'corpus')
    write(outdir, 'query', query_seeds())
    write(outdir, 'edns', edns_seeds())
    write(outdir, 'config', config_seeds())


if __name__ == '__main__':
    main()
