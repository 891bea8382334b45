#!/bin/bash
# tests/integration/shed.sh — load shedding end to end: 44.0.0.0/8 (empty
# in the sample database) and 2001:db8:4400::/40 are put in region lab by
# network overrides, lab sheds P% to emea. 4000 distinct ECS /24 clients:
# the shed share is P ± 3 points (P = 25, 50), every client shed at 25 is
# shed at 50, a restart changes nothing, each decision equals the one
# recomputed in python (SipHash-2-4 from the paper), scopes are ≥ K.
. "$(dirname "$0")/lib-extra.sh"
require dig python3

KEY=0f1e2d3c4b5a69788796a5b4c3d2e1f0
LAB="192.0.2.77"
EMEA="198.51.100.10,198.51.100.11"
N=4000

pick_port
write_zone 2024010101

# shed_config PERCENT
shed_config() {
	write_geo_config "$CONF" "shed:" "  lab: { to: emea, percent: $1 }"
	sed -i -e "s/^shed_key: .*/shed_key: \"$KEY\"/" \
		-e 's|^    "10.0.0.0/8": emea|&\n    "44.0.0.0/8": lab\n    "2001:db8:4400::/40": lab|' \
		"$CONF"
}

# run_clients PERCENT OUT — one server run: v4 /24 and /20 and v6 /56
# clients, one line each: CLIENT ANSWER SCOPE PYTHON_PREDICTION.
run_clients() {
	shed_config "$1"
	start_server
	dnsq shed --net 44.0.0.0/8 --src 24 --count $N --name www.$ZONE \
		--key $KEY --percent "$1" --out "$2" ||
		fail "P=$1: some /24 queries got no answer"
	dnsq shed --net 44.0.0.0/8 --src 20 --count 200 --name www.$ZONE \
		--key $KEY --percent "$1" --out "$2.v4-20" ||
		fail "P=$1: some /20 queries got no answer"
	dnsq shed --net 2001:db8:4400::/40 --src 56 --count 1000 --name www.$ZONE \
		--key $KEY --percent "$1" --out "$2.v6" ||
		fail "P=$1: some /56 queries got no answer"
	FIXED_A=$(dnsq q www.$ZONE A --ecs 44.1.2.0/24)
	FIXED_B=$(dnsq q www.$ZONE A --ecs 44.2.0.0/24)
	FIXED_V6=$(dnsq q www.$ZONE A --ecs 2001:db8:4412:3400::/56)
	stop_server TERM
	check "P=$1: SIGTERM exit status" 0 "$SERVER_STATUS"
}

# check_run PERCENT FILE MIN_SCOPE — answers, shares and predictions.
check_run() {
	local p=$1 f=$2 min=$3 total shed other bad_scope mismatch
	total=$(wc -l < "$f")
	shed=$(awk -v e="$EMEA" '$2 == e' "$f" | wc -l)
	other=$(awk -v e="$EMEA" -v l="$LAB" '$2 != e && $2 != l' "$f" | wc -l)
	bad_scope=$(awk -v m="$min" '$3 < m' "$f" | wc -l)
	mismatch=$(awk -v e="$EMEA" '($2 == e) != ($4 == "shed")' "$f" | wc -l)
	check "P=$p $(basename "$f"): every answer is lab or emea" 0 "$other"
	check "P=$p $(basename "$f"): every scope >= $min" 0 "$bad_scope"
	check "P=$p $(basename "$f"): every decision equals python's SipHash" 0 "$mismatch"
	[ "$mismatch" = 0 ] || awk -v e="$EMEA" '($2 == e) != ($4 == "shed")' "$f" | head -5
	SHARE=$((shed * 10000 / total))   # in hundredths of a percent
}

# --- the python SipHash against the paper's test vector, and the
# documented clients: h mod 10000 of 44.1.2.0/24 is 2119 (shed at 25 and
# 50), of 44.2.0.0/24 3668 (stays at 25, shed at 50), of
# 2001:db8:4412:3400::/56 4689 (stays at 25, shed at 50), under $KEY.
out=$(python3 "$DNSCLIENT" siphash --key $KEY --addr 44.1.2.0/24 --percent 25)
check "python SipHash-2-4: 44.1.2.0/24" \
	"K=24 h=12879343487460362119 mod=2119 shed" "$out"
out=$(python3 "$DNSCLIENT" siphash --key $KEY --addr 2001:db8:4412:3400::/56 --percent 25)
check "python SipHash-2-4: 2001:db8:4412:3400::/56" \
	"K=56 h=12582610810685544689 mod=4689 stay" "$out"

shed_config 25
out=$("$GEOVIPD" -c "$CONF" --lookup 44.1.2.0/24 2>&1)
check_grep "--lookup 44.1.2.0/24: the server's h equals python's" \
	"K=24 h=12879343487460362119, h mod 10000 = 2119 < 2500 → shed" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 2001:db8:4412:3400::/56 2>&1)
check_grep "--lookup 2001:db8:4412:3400::/56: the server's h equals python's" \
	"K=56 h=12582610810685544689, h mod 10000 = 4689 >= 2500 → stays" "$out"

# --- P = 25
run_clients 25 "$TEST_TMP/p25"
check "P=25: 44.1.2.0/24 (h mod 10000 = 2119) shed to emea" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=1/24/24/44.1.2.0 answer=$EMEA" "$FIXED_A"
check "P=25: 44.2.0.0/24 (h mod 10000 = 3668) stays in lab" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=1/24/24/44.2.0.0 answer=$LAB" "$FIXED_B"
check "P=25: 2001:db8:4412:3400::/56 (4689) stays in lab" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=2/56/56/2001:db8:4412:3400:: answer=$LAB" "$FIXED_V6"
check_run 25 "$TEST_TMP/p25" 24
check "P=25: $N clients answered" $N "$(wc -l < "$TEST_TMP/p25")"
if [ "$SHARE" -ge 2200 ] && [ "$SHARE" -le 2800 ]; then
	ok "P=25: shed share $SHARE/10000 within 25 ± 3 points"
else
	fail "P=25: shed share $SHARE/10000 not within 25 ± 3 points"
fi
check_run 25 "$TEST_TMP/p25.v4-20" 20
check_run 25 "$TEST_TMP/p25.v6" 56

# --- determinism: a restart gives every client the same answer and scope
run_clients 25 "$TEST_TMP/p25b"
if cmp -s "$TEST_TMP/p25" "$TEST_TMP/p25b" &&
   cmp -s "$TEST_TMP/p25.v6" "$TEST_TMP/p25b.v6" &&
   cmp -s "$TEST_TMP/p25.v4-20" "$TEST_TMP/p25b.v4-20"; then
	ok "P=25 after a restart: every client gets the same answer"
else
	fail "P=25 after a restart: answers differ"
	diff "$TEST_TMP/p25" "$TEST_TMP/p25b" | head -5
fi

# --- P = 50: share, monotony
run_clients 50 "$TEST_TMP/p50"
check "P=50: 44.1.2.0/24 still shed" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=1/24/24/44.1.2.0 answer=$EMEA" "$FIXED_A"
check "P=50: 44.2.0.0/24 (3668) now shed" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=1/24/24/44.2.0.0 answer=$EMEA" "$FIXED_B"
check "P=50: 2001:db8:4412:3400::/56 (4689) now shed" \
	"rcode=NOERROR aa=1 tc=0 opt=1 ecs=2/56/56/2001:db8:4412:3400:: answer=$EMEA" "$FIXED_V6"
check_run 50 "$TEST_TMP/p50" 24
if [ "$SHARE" -ge 4700 ] && [ "$SHARE" -le 5300 ]; then
	ok "P=50: shed share $SHARE/10000 within 50 ± 3 points"
else
	fail "P=50: shed share $SHARE/10000 not within 50 ± 3 points"
fi
check_run 50 "$TEST_TMP/p50.v4-20" 20
check_run 50 "$TEST_TMP/p50.v6" 56
for suffix in "" .v4-20 .v6; do
	# same client order in both files: line N is the same client
	lost=$(paste -d' ' "$TEST_TMP/p25$suffix" "$TEST_TMP/p50$suffix" |
		awk -v e="$EMEA" '$1 != $5 { print "order"; next } $2 == e && $6 != e' | wc -l)
	check "monotone$suffix: every client shed at 25 is shed at 50" 0 "$lost"
done
finish
