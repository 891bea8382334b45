#!/bin/bash
# tests/integration/services.sh — `services:`: names mapped to services,
# each with its own VIPs per region, asked with dig from two regions
# (-b 127.0.N.1) and by ECS (+subnet); a service missing in the client's
# region answers from the region the client would get were its region
# down: its fallback's when that has the service, else the weighted
# rendezvous draw by capacity over the regions with it (recomputed here
# by dnsclient.py's own SipHash and spread()), with an ECS scope of at
# least K while more than one region is drawn among; a region with the
# service going down; the list form beside it; --lookup and geovipctl
# lookup showing the draw; --check's FILE:LINE errors; a reload that
# takes a service away.
. "$(dirname "$0")/lib.sh"
require dig python3

DNSCLIENT="$top_srcdir/tests/integration/dnsclient.py"
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"
SOCK=$TEST_TMP/ctl.sock
KEY=000102030405060708090a0b0c0d0e0f

# services_config API_REGIONS — the test zone's names mapped to services:
# web in americas, emea and apac; api in API_REGIONS (YAML lines); emea
# has capacity 3 (the others 1), lab falls back to americas
services_config() {
	write_config "shed_key: \"$KEY\"" "control: $SOCK"
	sed -i -e 's/^    regional: .*/    regional: {www: web, api: api, "*.edge": api}/' \
		-e '/^  emea:$/a\    capacity: 3' \
		-e '/^  lab:$/a\    fallback: [americas]' "$CONF"
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

# spread_py NET... — for each client NET (its first K bits): "NET REGION
# SCORE_AMERICAS SCORE_EMEA", api's region by python's SipHash and
# weighted rendezvous draw over the regions with api, americas
# (capacity 1) and emea (capacity 3), and each one's score
spread_py() {
	python3 - "$top_srcdir/tests/integration" $KEY "$@" <<'PY'
import ipaddress, sys
sys.path.insert(0, sys.argv[1])
import dnsclient
assert dnsclient.siphash_selftest()
key = bytes.fromhex(sys.argv[2])
cands = [("americas", 1), ("emea", 3)]
for net in sys.argv[3:]:
    h = dnsclient.shed_hash(key, ipaddress.ip_network(net))
    print(net, dnsclient.spread(key, h, cands),
          " ".join("%.6f" % dnsclient.spread_score(key, h, n, c) for n, c in cands))
PY
}
spread_pick() { spread_py "$1" | awk '{ print $2 }'; }
declare -A API=([americas]=192.0.2.120 [emea]=198.51.100.120)

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

# --- api is not in apac (no fallback): an apac source is drawn between
# americas (capacity 1) and emea (capacity 3)
pick=$(spread_pick 127.0.2.0/24)
check "api from 127.0.2.1 (apac): python's draw says $pick" \
	"${API[$pick]}" "$(dig_short -b 127.0.2.1 api.$ZONE A)"
check "api from 127.0.2.99: the same /24, the same answer" \
	"${API[$pick]}" "$(dig_short -b 127.0.2.99 api.$ZONE A)"
# lab (127.0.7.0/24 is AQ) falls back to americas, which has api: there
# only, whatever the draw between americas and emea would say
check "api from 127.0.7.1 (lab): its fallback americas" \
	192.0.2.120 "$(dig_short -b 127.0.7.1 api.$ZONE A)"

# --- by ECS: many apac clients (2400::/12 is JP), each answer equal to
# python's pick, with scope K; web for the same clients keeps the leaf's
# (the picks computed in one python run: NET REGION SCORES per line)
nets=()
for i in $(seq 1 40); do
	nets+=("$(printf '2400:%x%02x::/32' $((i % 16)) $((i * 7 % 256)))")
done
picks=$(spread_py "${nets[@]}")
declare -A seen=([americas]=0 [emea]=0)
bad=0
while read -r net pick _; do
	out=$(dig_full +subnet="$net" api.$ZONE A)
	got=$(printf '%s\n' "$out" | awk '$4 == "A" { print $5 }' | head -1)
	scope=$(printf '%s\n' "$out" | sed -n 's/.*CLIENT-SUBNET: [^/]*\/32\/\([0-9]*\).*/\1/p')
	if [ "$got" != "${API[$pick]}" ] || [ "$scope" != 32 ]; then
		bad=$((bad + 1))
		echo "# $net: got '$got' scope '$scope', want ${API[$pick]} scope 32"
	fi
	seen[$pick]=$((seen[$pick] + 1))
done <<< "$picks"
check "ECS: 40 apac /32s, every api answer is python's draw with scope 32" 0 "$bad"
check "ECS: both regions get some (${seen[americas]} americas, ${seen[emea]} emea)" yes \
	"$([ "${seen[americas]}" -gt 2 ] && [ "${seen[emea]}" -gt 2 ] && echo yes || echo no)"
out=$(dig_full +subnet=2400::/32 www.$ZONE A)
check_grep "ECS 2400::/32: web stays in apac with the merged leaf's scope /12" \
	"CLIENT-SUBNET: 2400::/32/12" "$out"
out=$(dig_full +subnet=2400::/32 api.$ZONE A)
check_grep "ECS 2400::/32: api (spread) has scope /32" \
	"CLIENT-SUBNET: 2400::/32/32" "$out"
out=$(dig_full +subnet=198.51.100.0/24 api.$ZONE A)
check_grep "ECS 198.51.100.0/24 (emea has api): no spread, leaf scope" \
	"CLIENT-SUBNET: 198.51.100.0/24/25" "$out"

# --- --lookup: one line per service; --name narrows to one; the spread
# line shows the draw, each score as python computes it
read -r _ pick sa se <<< "$(spread_py 2400::/32)"
h=$(python3 "$DNSCLIENT" siphash --key $KEY --addr 2400::/32 | sed -n 's/.* h=\([0-9]*\) .*/\1/p')
draw_re="K=32 h=$h, scores -ln\\(u\\)/capacity americas \\(capacity 1\\) ([0-9.]+), emea \\(capacity 3\\) ([0-9.]+) → lowest: $pick; ecs scope 32\\)$"
# near A B — the daemon's 4 decimals and python's agree
near() { python3 -c "import sys; sys.exit(0 if abs(float('$1') - float('$2')) <= 0.00006 else 1)" 2>/dev/null && echo yes || echo "no ($1 vs $2)"; }
# draw_scores OUT — the two scores of the api line of OUT
draw_scores() { printf '%s\n' "$1" | sed -En "s#^service api .*$draw_re#\\1 \\2#p"; }
out=$("$GEOVIPD" -c "$CONF" --lookup 2400::/32 2>&1)
check_grep "--lookup: web line" "^service web +apac: 203\.0\.113\.110$" "$out"
check_grep "--lookup: api line shows the draw (K, h, each candidate's capacity and score, the lowest) and the scope" \
	"^service api +$pick: ${API[$pick]}.* \(not in apac: spread over the 2 up regions with api, $draw_re" "$out"
read -r da de <<< "$(draw_scores "$out")"
check "--lookup: americas' score is python's ($sa)" yes "$(near "$da" "$sa")"
check "--lookup: emea's score is python's ($se)" yes "$(near "$de" "$se")"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.7.1 --name api 2>&1)
check_grep "--lookup lab client: the fallback's draw, one candidate" \
	"^service api +americas: 192\.0\.2\.120 \(not in lab: spread over lab's 1 fallback region with api, K=24 h=[0-9]+, scores -ln\(u\)/capacity americas \(capacity 1\) [0-9.]+ → lowest: americas; ecs scope 0\)$" "$out"
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
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" lookup 2400::/32 --name api 2>&1)
check_grep "geovipctl lookup --name api: the draw" \
	"^service api +$pick: .* \(not in apac: spread over the 2 up regions with api, $draw_re" "$out"
read -r da de <<< "$(draw_scores "$out")"
check "geovipctl lookup: the scores are python's" "yes yes" \
	"$(near "$da" "$sa") $(near "$de" "$se")"
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" lookup 127.0.1.1 --name token.$ZONE 2>&1)
check_grep "geovipctl lookup --name of a non-regional name" "neither a service nor a regional name" "$out"
out=$("$GEOVIPD" -c "$CONF" --name api 2>&1)
check "--name without --lookup: a usage error (exit 2)" 2 "$?"

# --- emea, which has api, goes down: apac's api clients all go to
# americas, the one region left to draw from, with the merged leaf's
# scope again; back up, each goes back to python's draw
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" health emea down --reason "services test" 2>&1)
check_grep "health emea down: in effect" "in effect" "$out"
bad=0
while read -r net _; do
	out=$(dig_full +subnet="$net" api.$ZONE A)
	got=$(printf '%s\n' "$out" | awk '$4 == "A" { print $5 }')
	scope=$(printf '%s\n' "$out" | sed -n 's/.*CLIENT-SUBNET: [^/]*\/32\/\([0-9]*\).*/\1/p')
	[ "$got" = 192.0.2.120 ] && [ "$scope" = 12 ] || {
		bad=$((bad + 1)); echo "# emea down, $net: got '$got' scope '$scope'"; }
done <<< "$picks"
check "emea down: every apac /32's api from americas, scope the leaf's /12" 0 "$bad"
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" health emea up --reason "services test" 2>&1)
check_grep "health emea up: in effect" "in effect" "$out"
bad=0
while read -r net pick _; do
	got=$(dig_short +subnet="$net" api.$ZONE A | head -1)
	[ "$got" = "${API[$pick]}" ] || bad=$((bad + 1))
done <<< "$picks"
check "emea up: every apac /32 back to python's draw" 0 "$bad"

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
