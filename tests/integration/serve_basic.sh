#!/bin/bash
# tests/integration/serve_basic.sh — geovipd over UDP: regional answers per
# source address (dig -b 127.0.N.1 lands in a different continent of the
# sample geo database), AAAA, NXDOMAIN, NODATA, REFUSED, ANY, IPv6.
. "$(dirname "$0")/lib.sh"
require dig python3

setup
start_server

# --- regional answers by source address
check "www A from 127.0.0.1 (NA) -> americas" "192.0.2.10" \
	"$(dig_short www.$ZONE A)"
check "www A from 127.0.1.1 (EU) -> emea" "198.51.100.10 198.51.100.11" \
	"$(dig_short -b 127.0.1.1 www.$ZONE A)"
check "www A from 127.0.2.1 (AS) -> apac" "203.0.113.10" \
	"$(dig_short -b 127.0.2.1 www.$ZONE A)"
check "www A from 127.0.3.1 (OC/AU) -> apac" "203.0.113.10" \
	"$(dig_short -b 127.0.3.1 www.$ZONE A)"
check "www A from 127.0.4.1 (SA) -> americas" "192.0.2.10" \
	"$(dig_short -b 127.0.4.1 www.$ZONE A)"
check "www A from 127.0.5.1 (AF) -> emea" "198.51.100.10 198.51.100.11" \
	"$(dig_short -b 127.0.5.1 www.$ZONE A)"
check "apex A is regional" "198.51.100.10 198.51.100.11" \
	"$(dig_short -b 127.0.1.1 $ZONE A)"
check "*.edge wildcard is regional" "203.0.113.10" \
	"$(dig_short -b 127.0.2.1 pop1.edge.$ZONE A)"

out=$(dig_full www.$ZONE A)
check_grep "regional answer TTL is the zone's ttl" \
	"^www\.$ZONE\.[[:space:]]+30[[:space:]]+IN[[:space:]]+A" "$out"
check_grep "regional answer has AA" "^qr aa" "$(flags "$out")"

# --- AAAA
check "www AAAA from 127.0.0.1 -> americas v6" "2001:db8:10::1" \
	"$(dig_short www.$ZONE AAAA)"
check "www AAAA from 127.0.1.1 -> emea v6" "2001:db8:20::1" \
	"$(dig_short -b 127.0.1.1 www.$ZONE AAAA)"
out=$(dig_full -b 127.0.2.1 www.$ZONE AAAA)
check "AAAA for apac (no v6 VIPs): NOERROR" NOERROR "$(status "$out")"
check "AAAA for apac: no answer" 0 "$(count ANSWER "$out")"
check_grep "AAAA for apac: SOA in authority" \
	"^$ZONE\.[[:space:]]+[0-9]+[[:space:]]+IN[[:space:]]+SOA" "$out"

# --- zone data, NXDOMAIN, NODATA, REFUSED
check "MX from the zone file" "10 mail.$ZONE." "$(dig_short $ZONE MX)"
out=$(dig_full nope.$ZONE A)
check "NXDOMAIN status" NXDOMAIN "$(status "$out")"
check_grep "NXDOMAIN has AA" "^qr aa" "$(flags "$out")"
check_grep "NXDOMAIN SOA with negative TTL 60" \
	"^$ZONE\.[[:space:]]+60[[:space:]]+IN[[:space:]]+SOA" "$out"
out=$(dig_full token.$ZONE A)
check "NODATA status" NOERROR "$(status "$out")"
check "NODATA: no answer" 0 "$(count ANSWER "$out")"
check "NODATA: SOA in authority" 1 "$(count AUTHORITY "$out")"
out=$(dig_full www.not-served.example A)
check "outside our zones: REFUSED" REFUSED "$(status "$out")"
check_nogrep "REFUSED has no AA" "aa" "$(flags "$out")"
out=$(dig_full wWw.GeoVip.TeSt A)
check_grep "QNAME echoed as sent" "^;wWw\.GeoVip\.TeSt\.[[:space:]]+IN[[:space:]]+A" "$out"
out=$(dig_full host.sub.$ZONE A)
check_nogrep "delegation: referral without AA" "aa" "$(flags "$out")"
check_grep "delegation: NS in authority" "^sub\.$ZONE\.[[:space:]].*NS" "$out"

# --- ANY: minimal (RFC 8482), never the whole apex node
out=$(dig_full +noall +answer $ZONE ANY)
types=$(printf '%s\n' "$out" | awk 'NF >= 4 { print $4 }' | sort -u | wc -l)
check "ANY answers one RRset type" 1 "$types"

# --- EDNS and ECS
out=$(dig_full +subnet=192.0.2.0/24 www.$ZONE A)
check_grep "ECS echoed" "CLIENT-SUBNET: 192\.0\.2\.0/24/" "$out"
out=$(dig_full +noedns www.$ZONE A)
check_nogrep "no OPT without EDNS" "OPT PSEUDOSECTION" "$out"

# --- IPv6 transport: ::1 is EU/DE in the sample database
if [ "$HAVE_V6" = yes ]; then
	check "over ::1: www AAAA -> emea" "2001:db8:20::1" \
		"$(dig @::1 -p "$PORT" +tries=1 +time=2 +short www.$ZONE AAAA)"
	check "over ::1: www A -> emea" "198.51.100.10 198.51.100.11" \
		"$(dig @::1 -p "$PORT" +tries=1 +time=2 +short www.$ZONE A | sort | tr '\n' ' ' | sed 's/ $//')"
else
	echo "ok - # SKIP no ::1 on this host"
fi

# --- garbage does not kill the server
python3 - "$PORT" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for p in (b"", b"\x00", b"\x12\x34\x01\x00\x00\x01", b"\xff" * 600, b"\x00" * 12):
    s.sendto(p, ("127.0.0.1", int(sys.argv[1])))
EOF
check "still serving after garbage" "192.0.2.10" "$(dig_short www.$ZONE A)"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
