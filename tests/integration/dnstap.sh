#!/bin/bash
# tests/integration/dnstap.sh — the dnstap query log: fstrm_capture on a
# Unix socket, a few queries over UDP and TCP, then the capture decoded by
# dnstap-ldns (one AUTH_QUERY and one AUTH_RESPONSE per query, qnames,
# transports) and the `extra` field (the regional decision) read from the
# protobuf frames by a small decoder here (dnstap-ldns does not print it).
. "$(dirname "$0")/lib-extra.sh"
require python3 fstrm_capture dnstap-ldns
grep -q '^#define HAVE_DNSTAP 1' "$top_builddir/autoconf.h" 2>/dev/null ||
	{ echo "SKIP: built without dnstap"; exit 77; }

pick_port
write_zone 2024010101
SOCK=$TEST_TMP/dnstap.sock
CAP=$TEST_TMP/capture.fstrm
write_geo_config "$CONF" "dnstap:" "  socket: $SOCK" "  queries: true" \
	"  responses: true"
fstrm_capture -t protobuf:dnstap.Dnstap -u "$SOCK" -w "$CAP" \
	> "$TEST_TMP/capture.log" 2>&1 &
cap_pid=$!
for i in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || fail "fstrm_capture made no socket"
start_server
W=www.$ZONE

dnsq q $W A --ecs 198.51.100.0/24 >/dev/null           # emea continent 25
dnsq --bind 127.0.2.1 q $W A --ecs 10.1.2.0/24 >/dev/null  # apac, private ECS
dnsq q nope.$ZONE TXT >/dev/null                       # not regional
dnsq q --tcp $W A --ecs 192.0.2.192/26 >/dev/null      # apac network 26, TCP
stop_server
kill -INT "$cap_pid"
wait "$cap_pid"
cat "$TEST_TMP/capture.log"

# start_server's readiness probe is in the capture too: TXT for the token
out=$(dnstap-ldns -q -r "$CAP" | sed 's/^[^ ]* [^ ]* //')
echo "$out"
check "dnstap-ldns: 5 queries and 5 responses" "5 5" \
	"$(grep -c '^AQ ' <<< "$out") $(grep -c '^AR ' <<< "$out")"
check_grep "www over UDP, query and response" \
	"^AQ 127\.0\.0\.1 UDP [0-9]+b \"$W\.\" IN A" "$out"
check_grep "www from 127.0.2.1" "^AR 127\.0\.2\.1 UDP [0-9]+b \"$W\.\" IN A" "$out"
check_grep "nope over UDP" "^AR 127\.0\.0\.1 UDP [0-9]+b \"nope\.$ZONE\.\" IN TXT" "$out"
check_grep "www over TCP" "^AQ 127\.0\.0\.1 TCP [0-9]+b \"$W\.\" IN A" "$out"
yaml=$(dnstap-ldns -y -r "$CAP")
check_grep "identity and version" 'version: "geovip [0-9.]+"' "$yaml"

# the extra field of each frame, in order (Dnstap field 3)
extras=$(python3 - "$CAP" <<'EOF'
import struct, sys
data = open(sys.argv[1], "rb").read()

def varint(b, i):
    v = s = 0
    while True:
        c = b[i]; i += 1
        v |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return v, i

def fields(b):
    i, out = 0, {}
    while i < len(b):
        key, i = varint(b, i)
        f, t = key >> 3, key & 7
        if t == 0:
            v, i = varint(b, i)
        elif t == 2:
            n, i = varint(b, i); v = b[i:i + n]; i += n
        elif t == 5:
            v = b[i:i + 4]; i += 4
        elif t == 1:
            v = b[i:i + 8]; i += 8
        else:
            raise ValueError("wire type %d" % t)
        out[f] = v
    return out

i = 0
while i < len(data):
    (n,) = struct.unpack(">I", data[i:i + 4]); i += 4
    if n == 0:                       # a control frame
        (n,) = struct.unpack(">I", data[i:i + 4]); i += 4 + n
        continue
    d = fields(data[i:i + n]); i += n
    m = fields(d[14])
    print("%s %s" % ("AQ" if m[1] == 1 else "AR", d.get(3, b"-").decode()))
EOF
)
echo "$extras"
# two workers' queues interleave in the file: compare sorted
check "extra: the regional decision on both frames of each exchange" \
"AQ -
AQ -
AQ region=apac reason=continent scope=0 private_ecs
AQ region=apac reason=network_override scope=26
AQ region=emea reason=continent scope=25
AR -
AR -
AR region=apac reason=continent scope=0 private_ecs
AR region=apac reason=network_override scope=26
AR region=emea reason=continent scope=25" "$(LC_ALL=C sort <<< "$extras")"
finish
