#!/bin/bash
# tests/integration/ecs.sh — EDNS Client Subnet end to end: every region
# reached through ECS (IPv4, IPv6, IPv4-mapped, network override, private
# ECS set aside), the option echoed intact, scope 0 where the answer does
# not depend on the client, FORMERR on every invalid ECS form, `ecs: false`,
# and the scope property (every address inside the scope gets the answer).
. "$(dirname "$0")/lib-extra.sh"
require dig python3

pick_port
write_zone 2024010101
write_geo_config "$CONF" "shed:" "  lab: { to: emea, percent: 50 }"
start_server

AMERICAS="192.0.2.10"
EMEA="198.51.100.10,198.51.100.11"
APAC="203.0.113.10"
W=www.$ZONE

# ecs_case NAME ECS EXPECTED_ECS_ECHO EXPECTED_ANSWER [DNSQ_ARGS...]
ecs_case() {
	local name=$1 ecs=$2 echo=$3 answer=$4 out
	shift 4
	out=$(dnsq "$@" q $W A --ecs "$ecs")
	check "$name" "rcode=NOERROR aa=1 tc=0 opt=1 ecs=$echo answer=$answer" "$out"
}

# --- every region through ECS; the echo is FAMILY/SOURCE/SCOPE/ADDRESS
ecs_case "192.0.2.0/24 -> americas, scope 25" 192.0.2.0/24 \
	1/24/25/192.0.2.0 "$AMERICAS"
ecs_case "198.51.100.0/24 -> emea, scope 25" 198.51.100.0/24 \
	1/24/25/198.51.100.0 "$EMEA"
ecs_case "198.51.100.128/25 -> apac, scope 25" 198.51.100.128/25 \
	1/25/25/198.51.100.128 "$APAC"
ecs_case "2001:db8:2::/48 -> emea, scope 48" 2001:db8:2::/48 \
	2/48/48/2001:db8:2:: "$EMEA"
ecs_case "2001:db8:3::/48 -> apac, scope 48" 2001:db8:3::/48 \
	2/48/48/2001:db8:3:: "$APAC"
ecs_case "::ffff:198.51.100.0/120 -> emea, scope 121" ::ffff:198.51.100.0/120 \
	2/120/121/::ffff:c633:6400 "$EMEA"
ecs_case "override 192.0.2.192/26 -> apac, scope 26" 192.0.2.192/26 \
	1/26/26/192.0.2.192 "$APAC"
ecs_case "override 2001:db8:ffff::/48 -> apac, scope 48" 2001:db8:ffff::/48 \
	2/48/48/2001:db8:ffff:: "$APAC"
ecs_case "country override BR (177/8) -> emea, scope 8" 177.1.2.0/24 \
	1/24/8/177.1.2.0 "$EMEA"
# 127.0.2.1 is AS (apac); the ECS 10.1.2.0/24 would be emea by override:
# apac proves the private ECS address was set aside for the source.
ecs_case "private ECS 10.1.2.0/24 -> source address (apac), scope 0" \
	10.1.2.0/24 1/24/0/10.1.2.0 "$APAC" --bind 127.0.2.1
out=$(dig_full -b 127.0.2.1 +subnet=10.1.2.0/24 $W A)
check_grep "private ECS via dig: scope 0" "CLIENT-SUBNET: 10\.1\.2\.0/24/0" "$out"
check "private ECS via dig: answer from the source (apac)" "203.0.113.10" \
	"$(dig_short -b 127.0.2.1 +subnet=10.1.2.0/24 $W A)"
ecs_case "SOURCE 0: source address, scope 0" 0.0.0.0/0 1/0/0/0.0.0.0 "$AMERICAS"

# lab (AU, country override) sheds 50%: the scope is at least K = 24
out=$(dnsq q $W A --ecs 1.0.0.0/24)
check_grep "AU (lab, shedding) answers lab or emea" \
	"answer=(192\.0\.2\.77|$EMEA)$" "$out"
check_grep "shedding region: scope 24" "ecs=1/24/24/1\.0\.0\.0 " "$out"

# --- the same through dig and kdig
check "dig +subnet 192.0.2.0/24 -> americas" "192.0.2.10" \
	"$(dig_short +subnet=192.0.2.0/24 $W A)"
check_grep "dig echoes 192.0.2.0/24/25" "CLIENT-SUBNET: 192\.0\.2\.0/24/25$" \
	"$(dig_full +subnet=192.0.2.0/24 $W A)"
check "dig +subnet 198.51.100.0/24 -> emea" "198.51.100.10 198.51.100.11" \
	"$(dig_short +subnet=198.51.100.0/24 $W A)"
check "dig +subnet 2001:db8:2::/48 AAAA -> emea v6" "2001:db8:20::1" \
	"$(dig_short +subnet=2001:db8:2::/48 $W AAAA)"
check_grep "dig echoes 2001:db8:2::/48/48" "CLIENT-SUBNET: 2001:db8:2::/48/48$" \
	"$(dig_full +subnet=2001:db8:2::/48 $W AAAA)"
check_grep "dig echoes ::ffff:198.51.100.0/120/121" \
	"CLIENT-SUBNET: ::ffff:198\.51\.100\.0/120/121$" \
	"$(dig_full +subnet=::ffff:198.51.100.0/120 $W A)"
if command -v kdig >/dev/null 2>&1; then
	out=$(kdig @127.0.0.1 -p "$PORT" +retry=0 +time=2 +subnet=198.51.100.128/25 $W A 2>&1)
	check_grep "kdig: 198.51.100.128/25 -> apac" "IN[[:space:]]+A[[:space:]]+203\.0\.113\.10" "$out"
	check_grep "kdig: echo 198.51.100.128/25/25" "CLIENT-SUBNET: 198\.51\.100\.128/25/25" "$out"
	out=$(kdig @127.0.0.1 -p "$PORT" +retry=0 +time=2 +tcp +subnet=192.0.2.192/26 $W A 2>&1)
	check_grep "kdig over TCP: override -> apac" "IN[[:space:]]+A[[:space:]]+203\.0\.113\.10" "$out"
	check_grep "kdig over TCP: echo 192.0.2.192/26/26" "CLIENT-SUBNET: 192\.0\.2\.192/26/26" "$out"
else
	echo "ok - # SKIP kdig not found"
fi
check "TCP: ECS echoed, emea" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=2/48/48/2001:db8:2:: answer=$EMEA" \
	"$(dnsq q --tcp $W A --ecs 2001:db8:2::/48)"

# --- scope 0 where the answer does not depend on the client
check "NXDOMAIN: ECS echoed, scope 0" \
	"rcode=NXDOMAIN aa=1 tc=0 opt=1 ecs=1/24/0/192.0.2.0 answer=-" \
	"$(dnsq q nope.$ZONE A --ecs 192.0.2.0/24)"
check "REFUSED: ECS echoed, scope 0" \
	"rcode=REFUSED aa=0 tc=0 opt=1 ecs=1/24/0/192.0.2.0 answer=-" \
	"$(dnsq q www.not-served.example A --ecs 192.0.2.0/24)"
check_grep "MX (zone data): scope 0" "^rcode=NOERROR .* ecs=2/48/0/2001:db8:2:: " \
	"$(dnsq q $ZONE MX --ecs 2001:db8:2::/48)"
check_grep "TXT at a regional name: scope 0" "^rcode=NOERROR .* ecs=1/24/0/198\.51\.100\.0 " \
	"$(dnsq q $W TXT --ecs 198.51.100.0/24)"
check_grep "TXT token (zone data): scope 0" "ecs=1/25/0/198\.51\.100\.128 answer=$TOKEN$" \
	"$(dnsq q token.$ZONE TXT --ecs 198.51.100.128/25)"
# AAAA for apac (no IPv6 VIPs) is NODATA but regional: a regional scope
check "AAAA NODATA for apac keeps the regional scope" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=2/48/48/2001:db8:3:: answer=-" \
	"$(dnsq q $W AAAA --ecs 2001:db8:3::/48)"

# --- invalid ECS: FORMERR, OPT present, no ECS
FORMERR="rcode=FORMERR aa=0 tc=0 opt=1 ecs=none answer=-"
check "unknown FAMILY 3: FORMERR" "$FORMERR" "$(dnsq q $W A --ecs-raw 00031800c00002)"
check "FAMILY 0: FORMERR" "$FORMERR" "$(dnsq q $W A --ecs-raw 00001800c00002)"
check "IPv4 SOURCE 33: FORMERR" "$FORMERR" "$(dnsq q $W A --ecs-raw 00012100c000020000)"
check "IPv6 SOURCE 129: FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00028100$(printf '20010db8%026d' 0))"
check "ADDRESS too long (4 bytes for /24): FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00011800c0000200)"
check "ADDRESS too short (2 bytes for /24): FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00011800c000)"
check "ADDRESS present with SOURCE 0: FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 0001000000)"
check "bits beyond the prefix (192.0.3.0/23): FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00011700c00003)"
check "bits beyond the prefix (IPv6 /47): FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00022f0020010db80003)"
check "non-zero SCOPE in the query: FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 00011805c00002)"
check "truncated option (3 bytes): FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs-raw 000118)"
check "two ECS options: FORMERR" "$FORMERR" \
	"$(dnsq q $W A --ecs 192.0.2.0/24 --ecs 198.51.100.0/24)"
check "invalid ECS over TCP: FORMERR" "$FORMERR" \
	"$(dnsq q --tcp $W A --ecs-raw 00011805c00002)"
check "invalid ECS on a REFUSED name: FORMERR" "$FORMERR" \
	"$(dnsq q www.not-served.example A --ecs-raw 00031800c00002)"
check "still serving after invalid ECS" "192.0.2.10" "$(dig_short $W A)"

# --- property: for each address A, A/32 (A/128) gives scope S, and three
# other public addresses inside A/S get the same answer.
out=$(dnsq property --sample "$top_srcdir/geo/sample.txt" --name $W \
	--count 200 --seed "$RANDOM"); rc=$?
printf '%s\n' "$out" | grep '^FAIL' | head -20
check_grep "scope property: 600 checks, no failure" \
	"^property: 200 addresses, 600 same-scope checks, 0 with <3 others, 0 failures$" "$out"
[ "$rc" = 0 ] || fail "scope property: exit status $rc"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"

# --- ecs: false — the option is neither validated, used nor echoed
write_geo_config "$CONF" "ecs: false"
start_server
check "ecs off: 198.51.100.0/24 ignored (source -> americas), not echoed" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=none answer=$AMERICAS" \
	"$(dnsq q $W A --ecs 198.51.100.0/24)"
check "ecs off: from 127.0.1.1 (EU) with ECS 192.0.2.0/24 -> emea" \
	"198.51.100.10 198.51.100.11" "$(dig_short -b 127.0.1.1 +subnet=192.0.2.0/24 $W A)"
check_nogrep "ecs off: dig sees no CLIENT-SUBNET" "CLIENT-SUBNET" \
	"$(dig_full +subnet=198.51.100.0/24 $W A)"
check "ecs off: invalid ECS not validated" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=none answer=$AMERICAS" \
	"$(dnsq q $W A --ecs-raw 00031805c00002)"
check "ecs off: two ECS options not validated" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=none answer=$AMERICAS" \
	"$(dnsq q $W A --ecs 192.0.2.0/24 --ecs 198.51.100.0/24)"
check "ecs off: NXDOMAIN not echoed" \
	"rcode=NXDOMAIN aa=1 tc=0 opt=1 ecs=none answer=-" \
	"$(dnsq q nope.$ZONE A --ecs 192.0.2.0/24)"
stop_server TERM
check "SIGTERM exit status (ecs off)" 0 "$SERVER_STATUS"
finish
