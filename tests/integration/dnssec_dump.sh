#!/bin/bash
# tests/integration/dnssec_dump.sh — `geovipd --dump-signed ZONE` writes
# the zone as geovip signs it (the default region's variants), and
# ldns-verify-zone checks every signature and the NSEC or NSEC3 chain of
# it, for algorithms 13 and 15; a chain with one denial record removed
# must fail the same check (the tool really looks); clear errors for an
# unknown or unsigned zone.
. "$(dirname "$0")/lib-dnssec.sh"
require ldns-verify-zone

DUMP="$TEST_TMP/signed.zone"

# dump_and_verify LABEL KSK_ALG ZSK_ALG|- DENIAL_YAML DENIAL_TYPE
dump_and_verify() {
	local label=$1 type=$5 out
	make_keys "$2" "$3"
	write_config "    dnssec: { keys: [$KEYS], $4 }"
	"$GEOVIPD" -c "$CONF" --dump-signed $ZONE > "$DUMP" 2>"$TEST_TMP/err"
	check "$label: exit status" 0 "$?"
	check "$label: nothing on stderr" "" "$(cat "$TEST_TMP/err")"
	check_grep "$label: starts with the SOA" "^$ZONE\.[[:space:]].*IN[[:space:]]+SOA" \
		"$(head -1 "$DUMP")"
	check_grep "$label: has $type records" "IN[[:space:]]+$type[[:space:]]" "$(cat "$DUMP")"
	# the default region (americas): www A and AAAA are its VIPs
	check "$label: www A of the default region" "192.0.2.10" \
		"$(awk '$1 == "www.'$ZONE'." && $4 == "A" { print $5 }' "$DUMP")"
	check "$label: www AAAA of the default region" "2001:db8:10::1" \
		"$(awk '$1 == "www.'$ZONE'." && $4 == "AAAA" { print $5 }' "$DUMP")"
	out=$(ldns-verify-zone -k "$KSK.key" "$DUMP" 2>&1)
	check "$label: ldns-verify-zone exit status" 0 "$?"
	check_grep "$label: ldns-verify-zone" "Zone is verified and complete" "$out"
	# negative control: one denial record (and its RRSIG) less
	awk -v t="$type" 'BEGIN { n = 0 }
		$4 == t && n == 0 { n = 1; owner = $1; next }
		n == 1 && $1 == owner && $4 == "RRSIG" && $5 == t { n = 2; next }
		{ print }' "$DUMP" > "$DUMP.broken"
	out=$(ldns-verify-zone -k "$KSK.key" "$DUMP.broken" 2>&1)
	check "$label: a broken chain fails ldns-verify-zone" 1 "$([ $? -ne 0 ] && echo 1 || echo 0)"
}

pick_port
dump_and_verify "NSEC, ECDSA KSK+Ed25519 ZSK" ECDSAP256SHA256 ED25519 "denial: nsec" NSEC
dump_and_verify "NSEC, Ed25519 CSK" ED25519 - "denial: nsec" NSEC
dump_and_verify "NSEC3, ECDSA CSK" ECDSAP256SHA256 - \
	"denial: nsec3, nsec3: { iterations: 0, salt: \"-\" }" NSEC3
dump_and_verify "NSEC3, Ed25519 KSK+ECDSA ZSK, salt, CDS" ED25519 ECDSAP256SHA256 \
	"denial: nsec3, nsec3: { iterations: 3, salt: \"beef\" }, cds: true" NSEC3
check_grep "NSEC3PARAM in the dump" "IN[[:space:]]+NSEC3PARAM[[:space:]]+1 0 3 [Bb][Ee][Ee][Ff]" "$(cat "$DUMP")"
check_grep "CDS in the dump" "IN[[:space:]]+CDS[[:space:]]" "$(cat "$DUMP")"

# --- errors
out=$("$GEOVIPD" -c "$CONF" --dump-signed other.test 2>&1)
check "unknown zone: exit status" 1 "$?"
check_grep "unknown zone: message" "no zone other.test in .*geovip\.yaml" "$out"
write_config
out=$("$GEOVIPD" -c "$CONF" --dump-signed $ZONE 2>&1)
check "unsigned zone: exit status" 1 "$?"
check_grep "unsigned zone: message" "zone $ZONE has no dnssec: keys" "$out"

finish
