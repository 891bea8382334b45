#!/bin/bash
# tests/integration/dnssec.sh — DNSSEC checked by real validators: keys made
# by ldns-keygen at test time, the zone signed by geovipd at load, then delv
# (with the zone's trust anchor) and a validating unbound (stub zone to
# geovipd) must validate every answer kind — A, AAAA, regional NODATA,
# NXDOMAIN, wildcard, CNAME into a regional name, referrals with and
# without DS — from several regions; without DO nothing changes.
. "$(dirname "$0")/lib-dnssec.sh"

unbound_round() {
	local label=$1
	start_unbound 127.0.0.1
	unbound_check www.$ZONE A NOERROR "$label: www A (americas)" 192.0.2.10
	unbound_check www.$ZONE AAAA NOERROR "$label: www AAAA (americas)" 2001:db8:10::1
	unbound_check pop7.edge.$ZONE A NOERROR "$label: wildcard regional A (americas)" 192.0.2.10
	unbound_check alias.$ZONE A NOERROR "$label: CNAME into a regional name (americas)" 192.0.2.10
	unbound_check nope.$ZONE A NXDOMAIN "$label: NXDOMAIN"
	unbound_check token.$ZONE A NOERROR "$label: NODATA"
	unbound_check foo.wild.$ZONE TXT NOERROR "$label: wildcard TXT" '"wildcard"'
	unbound_check secure.$ZONE DS NOERROR "$label: DS"
	unbound_check sub.$ZONE DS NOERROR "$label: no DS"
	stop_unbound
	start_unbound 127.0.2.1
	unbound_check www.$ZONE A NOERROR "$label: www A (apac)" 203.0.113.10
	unbound_check www.$ZONE AAAA NOERROR "$label: regional NODATA AAAA (apac)"
	unbound_check pop7.edge.$ZONE AAAA NOERROR "$label: wildcard regional NODATA (apac)"
	unbound_check x.wcn.$ZONE A NOERROR "$label: wildcard CNAME into a regional name (apac)" 203.0.113.10
	stop_unbound
	start_unbound 127.0.1.1
	unbound_check www.$ZONE A NOERROR "$label: www A (emea)" "198.51.100.10 198.51.100.11"
	unbound_check $ZONE AAAA NOERROR "$label: apex AAAA (emea)" 2001:db8:20::1
	stop_unbound
}

# one full round for a key set: serve, validate, compare without DO
# check_cds LABEL — with cds: true, the KSK's CDS (SHA-256, as
# ldns-key2ds makes it) and CDNSKEY, signed by the KSK, validated by delv;
# nothing for the ZSK
check_cds() {
	local label=$1 ds tag
	# "OWNER TTL IN DS TAG ALG 2 DIGEST"
	ds=$(ldns-key2ds -n -2 "$KSK.key" | awk '$4 == "DS" { print $5, $6, $7, $8 $9 }')
	tag=${ds%% *}
	out=$(dig_full +dnssec $ZONE CDS)
	check "$label: CDS = the KSK's DS (SHA-256)" "$(echo "$ds" | tr a-f A-F)" \
		"$(printf '%s\n' "$out" | awk '$4 == "CDS" { print $5, $6, $7, $8 $9 }' | tr a-f A-F)"
	check_grep "$label: CDS signed by the KSK" \
		"IN[[:space:]]+RRSIG[[:space:]]+CDS [0-9]+ [0-9]+ [0-9]+ [0-9]+ [0-9]+ $tag " "$out"
	out=$(dig_full +dnssec $ZONE CDNSKEY)
	check "$label: one CDNSKEY, the KSK's" "257" \
		"$(printf '%s\n' "$out" | awk '$4 == "CDNSKEY" { print $5 }' | tr '\n' ' ' | sed 's/ $//')"
	delv_check $ZONE CDS "$label: CDS"
	delv_check $ZONE CDNSKEY "$label: CDNSKEY"
}

# round LABEL KSK_ALG ZSK_ALG|- [EXTRA_DNSSEC_SETTINGS]
round() {
	local label=$1
	make_keys "$2" "$3"
	write_config "    dnssec: { keys: [$KEYS], validity: 14d, refresh: 7d${4:+, $4} }"
	start_server
	if [ "${4:-}" = "cds: true" ]; then
		check_cds "$label"
	else
		out=$(dig_full +dnssec $ZONE CDS)
		check_nogrep "$label: no CDS by default" "^[^;].*IN[[:space:]]+CDS" "$out"
	fi

	# without DO: no DNSSEC records at all (answers as an unsigned zone)
	out=$(dig_full www.$ZONE A)
	check_nogrep "$label: no RRSIG without DO" "RRSIG|NSEC" "$out"
	out=$(dig_full +dnssec www.$ZONE A)
	check_grep "$label: RRSIG with DO" "IN[[:space:]]+RRSIG[[:space:]]+A " "$out"

	for src in 127.0.0.1 127.0.1.1 127.0.2.1; do
		delv_check www.$ZONE A "$label: www A from $src" -b "$src"
		delv_check $ZONE A "$label: apex A from $src" -b "$src"
		delv_check pop7.edge.$ZONE A "$label: regional wildcard A from $src" -b "$src"
		delv_check alias.$ZONE A "$label: CNAME into a regional name from $src" -b "$src"
		delv_check x.wcn.$ZONE A "$label: wildcard CNAME into a regional name from $src" -b "$src"
	done
	delv_check www.$ZONE AAAA "$label: www AAAA (americas)" -b 127.0.0.1
	delv_check www.$ZONE AAAA "$label: www AAAA (emea)" -b 127.0.1.1
	# apac has no IPv6 VIPs: a regional NODATA whose NSEC has no AAAA bit
	delv_check www.$ZONE AAAA "$label: regional NODATA AAAA (apac)" -b 127.0.2.1
	delv_check pop7.edge.$ZONE AAAA "$label: regional wildcard NODATA (apac)" -b 127.0.2.1
	out=$(dig_full -b 127.0.2.1 +dnssec www.$ZONE AAAA)
	check_grep "$label: apac NSEC at www has A, no AAAA" \
		"NSEC[[:space:]].* A (NS |MX |TXT )*RRSIG NSEC" "$out"
	out=$(dig_full -b 127.0.1.1 +dnssec www.$ZONE MX)
	check_grep "$label: other types at a regional name: NSEC with A and AAAA" \
		"NSEC[[:space:]].* A AAAA RRSIG NSEC" "$out"
	delv_check nope.$ZONE A "$label: NXDOMAIN"
	delv_check zzz.nope.$ZONE TXT "$label: NXDOMAIN two labels down"
	delv_check token.$ZONE A "$label: NODATA"
	delv_check ent.$ZONE TXT "$label: NODATA at an empty non-terminal"
	delv_check www.$ZONE MX "$label: NODATA at a regional name"
	delv_check foo.wild.$ZONE TXT "$label: wildcard answer"
	delv_check foo.wild.$ZONE A "$label: wildcard NODATA"
	delv_check $ZONE DNSKEY "$label: DNSKEY"
	# qtype NSEC: the NSEC itself (a NODATA would list NSEC in its bitmap)
	delv_check token.$ZONE NSEC "$label: qtype NSEC answered with the NSEC"
	delv_check foo.wild.$ZONE NSEC "$label: qtype NSEC at a wildcard name"
	delv_check www.$ZONE NSEC "$label: qtype NSEC at a regional name (apac)" -b 127.0.2.1
	out=$(dig_full -b 127.0.2.1 +dnssec www.$ZONE NSEC)
	check_grep "$label: qtype NSEC at a regional name: apac's variant" \
		"^www\.$ZONE\..*IN[[:space:]]+NSEC[[:space:]].* A RRSIG NSEC\$" "$out"
	# qtype RRSIG (delv does not ask it): every RRSIG at the name
	out=$(dig_full +dnssec token.$ZONE RRSIG)
	check "$label: qtype RRSIG: the RRSIGs of TXT and NSEC" "NSEC TXT" \
		"$(printf '%s\n' "$out" | awk '$1 ~ /^token/ && $4 == "RRSIG" { print $5 }' | sort | tr '\n' ' ' | sed 's/ $//')"
	delv_check $ZONE SOA "$label: SOA"
	delv_check $ZONE MX "$label: MX"
	delv_check secure.$ZONE DS "$label: DS at a delegation"
	delv_check sub.$ZONE DS "$label: no DS at a delegation (NSEC)"
	out=$(dig_full +dnssec +norec x.sub.$ZONE A)
	check_grep "$label: referral without DS carries the NSEC" \
		"^sub\.$ZONE\..*IN[[:space:]]+NSEC" "$out"
	out=$(dig_full +dnssec +norec x.secure.$ZONE A)
	check_grep "$label: referral with DS carries DS and RRSIG" \
		"IN[[:space:]]+RRSIG[[:space:]]+DS " "$out"
	if command -v unbound >/dev/null 2>&1; then
		unbound_round "$label"
	else
		echo "# SKIP unbound checks: unbound not installed"
	fi
	stop_server
}

round "ECDSA KSK+Ed25519 ZSK" ECDSAP256SHA256 ED25519 "cds: true"
round "Ed25519 CSK" ED25519 - "cds: true"
round "ECDSA CSK" ECDSAP256SHA256 -
round "RSASHA256 KSK+ECDSA ZSK" RSASHA256 ECDSAP256SHA256

# --- services: each regional name's variants are its service's RRsets.
# web has the regions' own VIPs (so the answers above hold), api is in
# americas and emea only: an apac client is spread to one of them and
# gets that region's pre-signed api variant, which must validate too.
services_round() {
	local label="services, ECDSA CSK" out src
	make_keys ECDSAP256SHA256 -
	write_config "    dnssec: { keys: [$KEYS], validity: 14d, refresh: 7d }"
	sed -i 's/^    regional: .*/    regional: {"@": web, www: web, api: api, "*.edge": web}/' "$CONF"
	cat >> "$CONF" <<EOF
services:
  web:
    americas: [192.0.2.10, "2001:db8:10::1"]
    emea: [198.51.100.10, 198.51.100.11, "2001:db8:20::1"]
    apac: [203.0.113.10]
  api:
    americas: [192.0.2.20]
    emea: [198.51.100.20, "2001:db8:20::20"]
EOF
	start_server
	for src in 127.0.0.1 127.0.1.1 127.0.2.1; do
		delv_check www.$ZONE A "$label: web A from $src" -b "$src"
		delv_check api.$ZONE A "$label: api A from $src" -b "$src"
		delv_check api.$ZONE AAAA "$label: api AAAA from $src" -b "$src"
	done
	out=$(dig_short -b 127.0.2.1 api.$ZONE A)
	check_grep "$label: api from apac is spread to americas or emea" \
		"^(192\.0\.2\.20|198\.51\.100\.20)$" "$out"
	# americas' api has no IPv6: a NODATA whose NSEC has A, not AAAA
	out=$(dig_full -b 127.0.0.1 +dnssec api.$ZONE AAAA)
	check_grep "$label: americas api NSEC: A, no AAAA" \
		"NSEC[[:space:]].* A RRSIG NSEC" "$out"
	delv_check x.wcn.$ZONE A "$label: wildcard CNAME into api from apac" -b 127.0.2.1
	if command -v unbound >/dev/null 2>&1; then
		start_unbound 127.0.2.1
		unbound_check api.$ZONE A NOERROR "$label: api A (apac, spread)"
		unbound_check api.$ZONE AAAA NOERROR "$label: api AAAA (apac, spread)"
		stop_unbound
	fi
	stop_server
}
services_round

# --- --lookup names the signed variant a client gets
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.2.1 2>&1)
check_grep "--lookup apac: A signed, AAAA NODATA, NSEC without AAAA" \
	"^dnssec +@ variant apac: A signed by key [0-9]+, AAAA NODATA, NSEC bitmap 'A [^']*RRSIG NSEC" "$out"
check_nogrep "--lookup apac: no AAAA bit" "bitmap '[^']*AAAA" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.1.1 2>&1)
check_grep "--lookup emea: A and AAAA signed" \
	"^dnssec +@ variant emea: A signed by key [0-9]+, AAAA signed by key [0-9]+, NSEC bitmap 'A [^']* AAAA RRSIG" "$out"

# --- bad keys and settings: --check refuses them with a clear message
# flip one bit of an ECDSA private key: it no longer matches the .key file
make_keys ECDSAP256SHA256 -
python3 - "$KSK.private" <<'EOF'
import base64, re, sys
p = sys.argv[1]
t = open(p).read()
m = re.search(r"PrivateKey: (\S+)", t)
raw = bytearray(base64.b64decode(m.group(1)))
raw[5] ^= 0x10
open(p, "w").write(t.replace(m.group(1), base64.b64encode(bytes(raw)).decode()))
EOF
check_refused "a bit-flipped private key" \
	"\.private:.*(does not match|cannot read)" "{ keys: [\"$KSK\"] }"
# RSA: a flipped bit in a prime, an exponent or the coefficient leaves the
# public key intact and still signs (OpenSSL falls back from CRT), but
# the file is damaged: the crypto library's key check says so; a flipped
# Ed25519 key no longer matches its .key
flip() { # flip FILE FIELD — one bit of the base64 FIELD
	python3 - "$1" "$2" <<'EOF'
import base64, re, sys
p, field = sys.argv[1], sys.argv[2]
t = open(p).read()
m = re.search(field + r": (\S+)", t)
raw = bytearray(base64.b64decode(m.group(1)))
raw[7] ^= 0x10
open(p, "w").write(t.replace(m.group(1), base64.b64encode(bytes(raw)).decode()))
EOF
}
make_keys RSASHA256 -
cp "$KSK.private" "$TEST_TMP/rsa.private"
for field in Prime1 Exponent2 Coefficient PrivateExponent; do
	cp "$TEST_TMP/rsa.private" "$KSK.private"
	flip "$KSK.private" "$field"
	check_refused "an RSA key with a flipped bit in $field" \
		"\.private: the private key is damaged: its parts do not agree" \
		"{ keys: [\"$KSK\"] }"
done
make_keys ED25519 -
flip "$KSK.private" PrivateKey
check_refused "a bit-flipped Ed25519 key" \
	"\.private: the private key does not match the public key" "{ keys: [\"$KSK\"] }"
check_refused "a missing key file" "nokey\.key: " "{ keys: [\"$KEYDIR/nokey\"] }"
(cd "$KEYDIR" && ldns-keygen -a ECDSAP256SHA256 -k other.test >/dev/null)
check_refused "a key of another zone" "not for zone $ZONE" \
	"{ keys: [\"$(ls "$KEYDIR"/Kother.test*.key)\"] }"
check_refused "an unknown denial" "'denial' must be nsec or nsec3" \
	"{ keys: [\"$KSK\"], denial: nsec4 }"
check_refused "refresh not shorter than validity" "'refresh' must be shorter" \
	"{ keys: [\"$KSK\"], validity: 7d, refresh: 1w }"
check_refused "a bad duration" "must be a duration" \
	"{ keys: [\"$KSK\"], validity: 14x }"

finish
