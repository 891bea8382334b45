#!/bin/bash
# tests/integration/dnssec_nsec3.sh — `denial: nsec3` checked by real
# validators: delv (trust anchor, source addresses of three regions) and a
# validating unbound (by source address, and by ECS forwarded through its
# subnet module) must validate A, AAAA, regional NODATA, NXDOMAIN,
# wildcard answers and NODATA, empty non-terminals, referrals with and
# without DS; the NSEC3 records themselves are checked (no opt-out,
# per-region bitmaps, NSEC3PARAM signed); iterations > 100 are refused.
. "$(dirname "$0")/lib-dnssec.sh"

# NSEC3 rdata as dig prints it: 1 0 ITER SALT NEXT TYPES...
N3="IN[[:space:]]+NSEC3[[:space:]]+1 0"

round() {
	local label=$1 n3param=$4
	make_keys "$2" "$3"
	write_config "    dnssec: { keys: [$KEYS], denial: nsec3, nsec3: $n3param }"
	start_server

	out=$(dig_full www.$ZONE A)
	check_nogrep "$label: no RRSIG/NSEC3 without DO" "RRSIG|NSEC" "$out"
	out=$(dig_full +dnssec $ZONE NSEC3PARAM)
	check_grep "$label: NSEC3PARAM at the apex" "IN[[:space:]]+NSEC3PARAM[[:space:]]+1 0 " "$out"
	check_grep "$label: NSEC3PARAM signed" "IN[[:space:]]+RRSIG[[:space:]]+NSEC3PARAM " "$out"
	out=$(dig_full +dnssec nope.$ZONE A)
	check "$label: NXDOMAIN" NXDOMAIN "$(status "$out")"
	# CE match, next closer cover, wildcard cover: 3, or 2 when one
	# NSEC3 covers both (never written twice)
	check_grep "$label: NXDOMAIN carries 2 or 3 NSEC3" "^[23]\$" \
		"$(printf '%s\n' "$out" | grep -cE "$N3")"
	check_nogrep "$label: no NSEC in an NSEC3 zone" "IN[[:space:]]+NSEC[[:space:]]" "$out"

	for src in 127.0.0.1 127.0.1.1 127.0.2.1; do
		delv_check www.$ZONE A "$label: www A from $src" -b "$src"
		delv_check $ZONE A "$label: apex A from $src" -b "$src"
		delv_check pop7.edge.$ZONE A "$label: regional wildcard A from $src" -b "$src"
		delv_check alias.$ZONE A "$label: CNAME into a regional name from $src" -b "$src"
		delv_check x.wcn.$ZONE A "$label: wildcard CNAME into a regional name from $src" -b "$src"
		delv_check nope.$ZONE A "$label: NXDOMAIN from $src" -b "$src"
	done
	delv_check www.$ZONE AAAA "$label: www AAAA (americas)" -b 127.0.0.1
	delv_check www.$ZONE AAAA "$label: www AAAA (emea)" -b 127.0.1.1
	# apac has no IPv6 VIPs: its NSEC3 at www has A and no AAAA
	delv_check www.$ZONE AAAA "$label: regional NODATA AAAA (apac)" -b 127.0.2.1
	delv_check pop7.edge.$ZONE AAAA "$label: regional wildcard NODATA (apac)" -b 127.0.2.1
	out=$(dig_full -b 127.0.2.1 +dnssec www.$ZONE AAAA)
	check_grep "$label: apac NSEC3 at www: A RRSIG, no AAAA" "$N3 .* A RRSIG\$" "$out"
	out=$(dig_full -b 127.0.1.1 +dnssec www.$ZONE MX)
	check_grep "$label: other types at a regional name: NSEC3 with A AAAA" \
		"$N3 .* A AAAA RRSIG\$" "$out"
	delv_check zzz.nope.$ZONE TXT "$label: NXDOMAIN two labels down"
	delv_check x.b.ent.$ZONE TXT "$label: NXDOMAIN below an empty non-terminal"
	delv_check token.$ZONE A "$label: NODATA"
	delv_check ent.$ZONE TXT "$label: NODATA at an empty non-terminal"
	out=$(dig_full +dnssec ent.$ZONE TXT)
	check_grep "$label: an empty non-terminal has its own NSEC3 (empty bitmap)" \
		"$N3 [0-9]+ [-0-9A-Fa-f]+ [0-9A-Va-v]+\$" "$out"
	delv_check www.$ZONE MX "$label: NODATA at a regional name"
	delv_check foo.wild.$ZONE TXT "$label: wildcard answer"
	delv_check foo.wild.$ZONE A "$label: wildcard NODATA"
	delv_check $ZONE DNSKEY "$label: DNSKEY"
	# qtypes NSEC and NSEC3 at a name: NODATA, neither bit in the bitmap
	delv_check token.$ZONE NSEC "$label: qtype NSEC: NODATA"
	delv_check token.$ZONE NSEC3 "$label: qtype NSEC3: NODATA"
	delv_check www.$ZONE NSEC "$label: qtype NSEC at a regional name: NODATA" -b 127.0.2.1
	out=$(dig_full +dnssec token.$ZONE RRSIG)
	check "$label: qtype RRSIG: the RRSIG of TXT" "TXT" \
		"$(printf '%s\n' "$out" | awk '$1 ~ /^token/ && $4 == "RRSIG" { print $5 }' | tr '\n' ' ' | sed 's/ $//')"
	delv_check $ZONE NSEC3PARAM "$label: NSEC3PARAM"
	delv_check $ZONE MX "$label: MX"
	delv_check secure.$ZONE DS "$label: DS at a delegation"
	delv_check sub.$ZONE DS "$label: no DS at a delegation (NSEC3)"
	out=$(dig_full +dnssec +norec x.sub.$ZONE A)
	check_grep "$label: referral without DS carries the NSEC3 of the cut (NS only)" \
		"$N3 .* NS\$" "$out"
	out=$(dig_full +dnssec +norec x.secure.$ZONE A)
	check_grep "$label: referral with DS carries DS and RRSIG" \
		"IN[[:space:]]+RRSIG[[:space:]]+DS " "$out"
	if command -v unbound >/dev/null 2>&1; then
		start_unbound 127.0.0.1
		unbound_check www.$ZONE A NOERROR "$label: www A (americas)" 192.0.2.10
		unbound_check www.$ZONE AAAA NOERROR "$label: www AAAA (americas)" 2001:db8:10::1
		unbound_check nope.$ZONE A NXDOMAIN "$label: NXDOMAIN"
		unbound_check token.$ZONE A NOERROR "$label: NODATA"
		unbound_check foo.wild.$ZONE TXT NOERROR "$label: wildcard TXT" '"wildcard"'
		unbound_check x.wcn.$ZONE A NOERROR "$label: wildcard CNAME (americas)" 192.0.2.10
		unbound_check sub.$ZONE DS NOERROR "$label: no DS"
		unbound_check secure.$ZONE DS NOERROR "$label: DS"
		stop_unbound
		start_unbound 127.0.2.1
		unbound_check www.$ZONE A NOERROR "$label: www A (apac)" 203.0.113.10
		unbound_check www.$ZONE AAAA NOERROR "$label: regional NODATA AAAA (apac)"
		stop_unbound
		# by ECS: unbound at 127.0.0.1 (americas) forwards the client's
		# subnet, and geovipd answers for that subnet's region
		start_unbound 127.0.0.1 ecs
		unbound_check www.$ZONE A NOERROR "$label: www A by ECS (emea)" \
			"198.51.100.10 198.51.100.11" +subnet=198.51.100.0/24
		unbound_check www.$ZONE AAAA NOERROR "$label: regional NODATA AAAA by ECS (apac)" \
			"" +subnet=198.51.100.128/25
		unbound_check www.$ZONE A NOERROR "$label: www A by ECS (apac)" \
			203.0.113.10 +subnet=198.51.100.128/25
		stop_unbound
	else
		echo "# SKIP unbound checks: unbound not installed"
	fi
	stop_server
}

round "NSEC3 ECDSA KSK+Ed25519 ZSK, no salt" ECDSAP256SHA256 ED25519 \
	'{ iterations: 0, salt: "-" }'
round "NSEC3 Ed25519 CSK, salt, 5 iterations" ED25519 - \
	'{ iterations: 5, salt: "a1b2c3d4" }'

# --- --lookup: the NSEC3 variant
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.2.1 2>&1)
check_grep "--lookup apac: NSEC3 bitmap without AAAA" \
	"^dnssec +@ variant apac: A signed by key [0-9]+, AAAA NODATA, NSEC3 bitmap 'A NS SOA MX TXT RRSIG DNSKEY NSEC3PARAM'" "$out"

# --- settings refused with FILE:LINE
make_keys ECDSAP256SHA256 -
check_refused "more than 100 iterations" \
	"geovip\.yaml:[0-9]+: nsec3 'iterations' must be a whole number from 0 to 100" \
	"{ keys: [\"$KSK\"], denial: nsec3, nsec3: { iterations: 101 } }"
check_refused "a salt that is not hex" "nsec3 'salt' must be" \
	"{ keys: [\"$KSK\"], denial: nsec3, nsec3: { salt: xyz } }"
check_refused "an unknown nsec3 key" "unknown key 'opt-out' in 'nsec3'" \
	"{ keys: [\"$KSK\"], denial: nsec3, nsec3: { opt-out: true } }"

finish
