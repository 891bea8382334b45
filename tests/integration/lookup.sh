#!/bin/bash
# tests/integration/lookup.sh — `geovipd -c CONFIG --lookup ADDR[/PREFIX]`:
# the printed decision names the region, the override, the shed decision,
# the VIPs and the ECS scope; it agrees with what the running server answers
# to the same ECS option; a bad argument exits non-zero with a message.
. "$(dirname "$0")/lib-extra.sh"
require dig python3

pick_port
write_zone 2024010101
write_geo_config "$CONF" "shed:" "  lab: { to: emea, percent: 50 }"

# lookup ARG — the output (stdout and stderr); sets RC.
lookup() {
	OUT=$(timeout 10 "$GEOVIPD" -c "$CONF" --lookup "$1" 2>&1)
	RC=$?
}

# field NAME — the value of one "name   value" line of $OUT.
field() {
	printf '%s\n' "$OUT" | sed -n "s/^$1  *//p" | head -1
}

# --- a packet source address: no ECS, scope 0
lookup 198.51.100.7
check "198.51.100.7: exit status" 0 "$RC"
check "198.51.100.7: region emea" emea "$(field region)"
check "198.51.100.7: answer region emea" emea "$(field "answer region")"
check "198.51.100.7: no shed" "none for this region" "$(field shed)"
check "198.51.100.7: vips" "198.51.100.10 198.51.100.11 2001:db8:20::1" "$(field vips)"
check_grep "198.51.100.7: ecs scope 0" "^ecs scope +0 " "$OUT"
check "198.51.100.7: continent" EU "$(field continent)"

# --- ECS prefixes
lookup 192.0.2.0/24
check "192.0.2.0/24: region americas" americas "$(field region)"
check "192.0.2.0/24: vips" "192.0.2.10 2001:db8:10::1" "$(field vips)"
check "192.0.2.0/24: ecs scope 25" 25 "$(field "ecs scope")"
check "192.0.2.0/24: merged leaf" "192.0.2.0/25 (leaf /25, mmdb and overrides alone: /25)" \
	"$(field merged)"
check "192.0.2.0/24: the merge stops at the /25 holding apac" \
	"neighbour 192.0.2.128/25 holds region apac" "$(field "merge stops")"

# unknown space merges with its neighbours of one region: 8.0.0.0/5 is
# americas (8.8.8.0/24 US, unknown space, 10/8 private); 0.0.0.0/5 holds
# 1.0.0.0/24 (AU → lab). The leaf itself is the /21: leaves whose region
# comes from different rules (default_region here, the continent at
# 8.8.8.0/24) are kept apart for the metrics' reason label, which leaves
# the scope as wide as before.
lookup 8.8.4.0/24
check_grep "8.8.4.0/24: not in the database, empty network /21" \
	"^mmdb +not in database \(empty network /21\)" "$OUT"
check "8.8.4.0/24: merged leaf 8.0.0.0/5" \
	"8.0.0.0/5 (leaf /21, mmdb and overrides alone: /21)" "$(field merged)"
check "8.8.4.0/24: neighbour 0.0.0.0/5 holds lab" \
	"neighbour 0.0.0.0/5 holds region lab" "$(field "merge stops")"
check "8.8.4.0/24: ecs scope 5" 5 "$(field "ecs scope")"

# a private packet source keeps its exact region, its leaf unmerged
lookup 127.0.2.1
check "127.0.2.1: region apac (JP)" apac "$(field region)"
check_grep "127.0.2.1: a private leaf is not merged" \
	"^merge stops +a private address is never an ECS client" "$OUT"

lookup 192.0.2.200/26
check "192.0.2.200/26: looked up as the /26" "192.0.2.192/26" "$(field "looked up")"
check_grep "192.0.2.200/26: names the network override and its line" \
	"^override +network 192\.0\.2\.192/26 \(.*geovip\.yaml line [0-9]+\)" "$OUT"
check "192.0.2.200/26: region apac" apac "$(field region)"
check "192.0.2.200/26: vips" "203.0.113.10" "$(field vips)"
check "192.0.2.200/26: ecs scope 26" 26 "$(field "ecs scope")"

lookup ::ffff:198.51.100.0/120
check "::ffff:198.51.100.0/120: unwrapped to 198.51.100.0/24" "198.51.100.0/24" \
	"$(field "looked up")"
check "::ffff:198.51.100.0/120: region emea" emea "$(field region)"
check "::ffff:198.51.100.0/120: ecs scope 121" 121 "$(field "ecs scope")"

lookup 2001:db8:2::/48
check "2001:db8:2::/48: region emea" emea "$(field region)"
check "2001:db8:2::/48: ecs scope 48" 48 "$(field "ecs scope")"

lookup 10.1.2.0/24
check_grep "10.1.2.0/24: says the ECS address is private" "^note +the ECS address is private" "$OUT"
check_grep "10.1.2.0/24: ecs scope 0, no decision of its own" "with ECS scope 0; look that up instead$" "$OUT"
if grep -q "^answer region" <<<"$OUT"; then fail "10.1.2.0/24: prints a decision it cannot know"; else ok "10.1.2.0/24: prints no decision"; fi

# lab (country AU) sheds 50% to emea: the shed line, K, h and the outcome;
# h is recomputed in python from the printed K and the key.
lookup 1.0.0.0/24
check "1.0.0.0/24: region before shed lab" lab "$(field region)"
check_grep "1.0.0.0/24: names the country override" "^override +country AU " "$OUT"
shed=$(field shed)
check_grep "1.0.0.0/24: shed line" \
	"^to emea at 50\.00% \(config\): K=24 h=[0-9]+, h mod 10000 = [0-9]+ (< 5000 → shed|>= 5000 → stays)$" "$shed"
py=$(python3 "$DNSCLIENT" siphash --key "$SHED_KEY" --addr 1.0.0.0/24 --percent 50)
h=$(printf '%s\n' "$py" | sed -n 's/.* h=\([0-9]*\) .*/\1/p')
check_grep "1.0.0.0/24: h equals python's SipHash ($py)" "K=24 h=$h," "$shed"
if printf '%s\n' "$py" | grep -q ' shed$'; then want=emea; else want=lab; fi
check "1.0.0.0/24: answer region follows the shed decision" "$want" "$(field "answer region")"
check "1.0.0.0/24: ecs scope 24 (K)" 24 "$(field "ecs scope")"

# --- the printed decision agrees with the running server
start_server
for prefix in 192.0.2.0/24 198.51.100.0/24 198.51.100.128/25 192.0.2.192/26 \
	1.0.0.0/24 203.0.113.0/24 177.1.0.0/16 2001:db8:2::/48 \
	2001:db8:ffff::/48 ::ffff:198.51.100.0/120 44.1.2.0/24 2a00:1::/32 \
	8.8.4.0/24 3000::/56 2002:100::/56; do
	lookup "$prefix"
	want_vips=$(field vips | tr ' ' '\n' | grep -v : | sort | tr '\n' ',' | sed 's/,$//')
	want_scope=$(field "ecs scope")
	got=$(dnsq q www.$ZONE A --ecs "$prefix")
	check_grep "$prefix: server answers what --lookup prints ($want_vips, scope $want_scope)" \
		"ecs=[12]/[0-9]+/$want_scope/.* answer=${want_vips:--}$" "$got"
done
stop_server TERM

# --- bad arguments: non-zero exit and a message naming the argument
for bad in nonsense 192.0.2.1/33 2001:db8::/129 1.2.3.4/ 192.0.2.0/24x \
	192.0.2.1/-1 "" "192.0.2.1 " 300.1.2.3; do
	lookup "$bad"
	if [ "$RC" -ne 0 ]; then
		ok "--lookup '$bad': non-zero exit ($RC)"
	else
		fail "--lookup '$bad': exit status 0"
	fi
	check_grep "--lookup '$bad': message names the argument" "'$bad'" "$OUT"
done
out=$(timeout 10 "$GEOVIPD" -c "$TEST_TMP/missing.yaml" --lookup 192.0.2.1 2>&1); rc=$?
check "--lookup with a missing config: exit status 1" 1 "$rc"
check_grep "--lookup with a missing config: names the file" "missing\.yaml" "$out"
finish
