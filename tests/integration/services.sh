#!/bin/bash
# tests/integration/services.sh — `services:`: names mapped to services,
# each with its own VIPs per region, asked with dig from two regions
# (-b 127.0.N.1) and by ECS (+subnet); a service missing in the client's
# region answers from a region that has it, chosen by the shed hash
# (recomputed here by dnsclient.py's own SipHash) with an ECS scope of at
# least K; the list form beside it; --lookup per service and --name;
# --check's FILE:LINE errors; a reload that takes a service away.
. "$(dirname "$0")/lib.sh"
require dig python3

DNSCLIENT="$top_srcdir/tests/integration/dnsclient.py"
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"
SOCK=$TEST_TMP/ctl.sock
KEY=000102030405060708090a0b0c0d0e0f

# services_config API_REGIONS — the test zone's names mapped to services:
# web in americas, emea and apac; api in API_REGIONS (YAML lines)
services_config() {
	write_config "shed_key: \"$KEY\"" "control: $SOCK"
	sed -i 's/^    regional: .*/    regional: {www: web, api: api, "*.edge": api}/' "$CONF"
	cat >> "$CONF" <<EOF
services:
  web:
    americas: [192.0.2.110, "2001:db8:110::1"]
    emea: [198.51.100.110, "2001:db8:120::1"]
    apac: [203.0.113.110]
  api:
$1
EOF
}

# spread_pick NET — 0 or 1: h mod 2 of the client's first K bits, with
# python's SipHash (index into the regions that have api, in config order)
spread_pick() {
	python3 "$DNSCLIENT" siphash --key $KEY --addr "$1" |
		sed -n 's/.* h=\([0-9]*\) .*/\1/p' |
		python3 -c 'import sys; print(int(sys.stdin.read()) % 2)'
}

pick_port
write_zone 2024010101
services_config "    americas: [192.0.2.120]
    emea: [198.51.100.120, \"2001:db8:120::20\"]"
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
check "--check accepts the services config" 0 "$?"
start_server

# --- every service in every region it has, by source address
check "web from 127.0.0.1 (americas)" "192.0.2.110" "$(dig_short www.$ZONE A)"
check "web AAAA from 127.0.0.1" "2001:db8:110::1" "$(dig_short www.$ZONE AAAA)"
check "web from 127.0.1.1 (emea)" "198.51.100.110" "$(dig_short -b 127.0.1.1 www.$ZONE A)"
check "web from 127.0.2.1 (apac)" "203.0.113.110" "$(dig_short -b 127.0.2.1 www.$ZONE A)"
out=$(dig_full -b 127.0.2.1 www.$ZONE AAAA)
check "web AAAA from apac (no IPv6 there): NODATA" "NOERROR 0" \
	"$(status "$out") $(count ANSWER "$out")"
check "api from 127.0.0.1 (americas)" "192.0.2.120" "$(dig_short api.$ZONE A)"
check "api from 127.0.1.1 (emea)" "198.51.100.120" "$(dig_short -b 127.0.1.1 api.$ZONE A)"
check "wildcard *.edge → api from emea" "198.51.100.120" \
	"$(dig_short -b 127.0.1.1 pop1.edge.$ZONE A)"
# the apex stays a zone-file name: its A comes from nowhere (NODATA)
out=$(dig_full $ZONE A)
check "apex is not regional any more: NODATA" "NOERROR 0" \
	"$(status "$out") $(count ANSWER "$out")"

# --- api is not in apac: an apac source is spread over americas, emea
want=(192.0.2.120 198.51.100.120)
pick=$(spread_pick 127.0.2.0/24)
check "api from 127.0.2.1 (apac): spread by h mod 2 = $pick" \
	"${want[$pick]}" "$(dig_short -b 127.0.2.1 api.$ZONE A)"
check "api from 127.0.2.99: the same /24, the same answer" \
	"${want[$pick]}" "$(dig_short -b 127.0.2.99 api.$ZONE A)"

# --- by ECS: many apac clients (2400::/12 is JP), each answer equal to
# python's pick, with scope K; web for the same clients keeps the leaf's
# (the picks computed in one python run: NET PICK per line)
picks=$(python3 - "$top_srcdir/tests/integration" $KEY <<'PY'
import ipaddress, sys
sys.path.insert(0, sys.argv[1])
import dnsclient
assert dnsclient.siphash_selftest()
key = bytes.fromhex(sys.argv[2])
for i in range(1, 25):
    net = ipaddress.ip_network("2400:%x%02x::/32" % (i % 16, i * 7 % 256))
    print(net, dnsclient.shed_hash(key, net) % 2)
PY
)
seen0=0 seen1=0 bad=0
while read -r net pick; do
	out=$(dig_full +subnet="$net" api.$ZONE A)
	got=$(printf '%s\n' "$out" | awk '$4 == "A" { print $5 }')
	scope=$(printf '%s\n' "$out" | sed -n 's/.*CLIENT-SUBNET: [^/]*\/32\/\([0-9]*\).*/\1/p')
	if [ "$got" != "${want[$pick]}" ] || [ "$scope" != 32 ]; then
		bad=$((bad + 1))
		echo "# $net: got '$got' scope '$scope', want ${want[$pick]} scope 32"
	fi
	[ "$pick" = 0 ] && seen0=$((seen0 + 1)) || seen1=$((seen1 + 1))
done <<< "$picks"
check "ECS: 24 apac /32s, every api answer is python's pick with scope 32" 0 "$bad"
check "ECS: both regions get some ($seen0 americas, $seen1 emea)" yes \
	"$([ "$seen0" -gt 2 ] && [ "$seen1" -gt 2 ] && echo yes || echo no)"
out=$(dig_full +subnet=2400::/32 www.$ZONE A)
check_grep "ECS 2400::/32: web stays in apac with the merged leaf's scope /12" \
	"CLIENT-SUBNET: 2400::/32/12" "$out"
out=$(dig_full +subnet=2400::/32 api.$ZONE A)
check_grep "ECS 2400::/32: api (spread) has scope /32" \
	"CLIENT-SUBNET: 2400::/32/32" "$out"
out=$(dig_full +subnet=198.51.100.0/24 api.$ZONE A)
check_grep "ECS 198.51.100.0/24 (emea has api): no spread, leaf scope" \
	"CLIENT-SUBNET: 198.51.100.0/24/25" "$out"

# --- --lookup: one line per service; --name narrows to one
out=$("$GEOVIPD" -c "$CONF" --lookup 2400::/32 2>&1)
check_grep "--lookup: web line" "^service web +apac: 203\.0\.113\.110$" "$out"
check_grep "--lookup: api line names the spread, K, h and the scope" \
	"^service api +(americas|emea): .* \(not in apac: spread over 2 regions, K=32 h=[0-9]+, h mod 2 = [01]; ecs scope 32\)" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.1.1 --name www.$ZONE 2>&1)
check_grep "--name www: the name's service" "^name +www\.$ZONE is regional, service web" "$out"
check_nogrep "--name www: only that service" "^service api" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.1.1 --name api 2>&1)
check_grep "--name api (a service)" "^service api +emea: 198\.51\.100\.120 2001:db8:120::20$" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.1.1 --name token.$ZONE 2>&1)
check "--name of a non-regional name: exit 1" 1 "$?"
check_grep "--name of a non-regional name: message" "neither a service nor a regional name" "$out"
# the same through the control socket, against the live snapshot
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" lookup 127.0.1.1 --name api 2>&1)
check_grep "geovipctl lookup --name api" "^service api +emea: 198\.51\.100\.120 2001:db8:120::20$" "$out"
check_nogrep "geovipctl lookup --name api: only api" "^service web" "$out"
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" lookup 2400::/32 2>&1)
check_grep "geovipctl lookup: one line per service" "^service web +apac: 203\.0\.113\.110$" "$out"
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" lookup 127.0.1.1 --name token.$ZONE 2>&1)
check_grep "geovipctl lookup --name of a non-regional name" "neither a service nor a regional name" "$out"
out=$("$GEOVIPD" -c "$CONF" --name api 2>&1)
check "--name without --lookup: a usage error (exit 2)" 2 "$?"

# --- a reload that takes api out of emea: emea clients now all go to
# americas (one candidate: the scope stays the leaf's)
services_config "    americas: [192.0.2.120]"
kill -HUP "$SERVER_PID"
for i in $(seq 1 50); do
	[ "$(dig_short -b 127.0.1.1 api.$ZONE A)" = 192.0.2.120 ] && break
	sleep 0.1
done
check "after reload: api from emea → americas" "192.0.2.120" \
	"$(dig_short -b 127.0.1.1 api.$ZONE A)"
out=$(dig_full +subnet=198.51.100.0/24 api.$ZONE A)
check_grep "after reload: one candidate, the leaf's scope" \
	"CLIENT-SUBNET: 198.51.100.0/24/25" "$out"
stop_server

# --- --check: FILE:LINE of each mistake
cat > "$CONF" <<EOF
listen: [127.0.0.1:$PORT]
geoip: $GEO_DB
regions:
  americas: {continents: [NA, SA], vips: [192.0.2.10]}
  emea: {continents: [EU, AF]}
default_region: americas
services:
  web: {americas: [192.0.2.110], mars: [192.0.2.111]}
  empty: {}
zones:
  - origin: $ZONE.
    file: $ZONE_FILE
    regional: {www: web, api: nope}
  - origin: other.test.
    file: $ZONE_FILE
    regional: [www]
EOF
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
check "--check refuses: exit 1" 1 "$?"
check_grep "--check: unknown region in a service" \
	"geovip\.yaml:8: unknown region 'mars' in service 'web' \(regions: americas, emea\)" "$out"
check_grep "--check: a service with no VIPs anywhere" \
	"geovip\.yaml:9: service 'empty' has no VIPs in any region" "$out"
check_grep "--check: a name mapped to an unknown service" \
	"geovip\.yaml:13: regional name 'api' maps to unknown service 'nope' \(services: web, empty\)" "$out"
check_grep "--check: list form needs the regions' own VIPs" \
	"geovip\.yaml:5: region 'emea' has no VIPs: .*zone other\.test\., line 16" "$out"

finish
