#!/bin/bash
# tests/integration/dnssec_presigned.sh — a zone file signed by
# ldns-signzone (NSEC, then NSEC3), its regional names there as
# placeholder A records: geovipd serves the file's RRSIGs and chain as
# they are and signs only each region's variant of the regional names
# with the ZSK it is given; delv and a validating unbound validate every
# answer kind from several regions. --check refuses a signed file without
# keys, a key the file does not publish, an expired file and a regional
# name missing from the file's chain; it warns when the file's signatures
# expire within `refresh`.
. "$(dirname "$0")/lib-dnssec.sh"
require ldns-signzone ldns-verify-zone unbound

UNSIGNED="$TEST_TMP/unsigned.zone"
SIGNED="$TEST_TMP/signed.zone"
# the regional names of write_config: "@", www, api, *.edge
add_placeholders() {
	cat >> "$1" <<EOF
@       IN A 192.0.2.1
www     IN A 192.0.2.1
api     IN A 192.0.2.1
*.edge  IN A 192.0.2.1
EOF
}
cp "$ZONE_FILE" "$UNSIGNED"
add_placeholders "$UNSIGNED"

# sign_file [LDNS_SIGNZONE_OPTIONS...] — $UNSIGNED signed by the KSK and
# the ZSK into $SIGNED
sign_file() {
	ldns-signzone "$@" -f "$SIGNED" -o "$ZONE." "$UNSIGNED" "$KSK" "$ZSK" ||
		{ echo "FAIL - ldns-signzone $*"; exit 1; }
}
# config_signed DNSSEC_YAML — serve $SIGNED with these dnssec: settings
config_signed() {
	write_config "    dnssec: $1"
	sed -i "s|^    file: .*|    file: $SIGNED|" "$CONF"
}

make_keys ECDSAP256SHA256 ECDSAP256SHA256
ZSK=$(ls "$KEYDIR"/K*.key | grep -v "^$KSK.key\$")
ZSK=${ZSK%.key}

# round LABEL — serve $SIGNED, validate every answer kind
round() {
	local label=$1 src
	config_signed "{ keys: [\"$ZSK\"] }"
	out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
	check "$label: --check accepts the signed file" 0 "$?"
	start_server
	# the file's own signatures are served for the file's RRsets
	# (its expiration: ldns-signzone's default, 4 weeks, not geovip's 14d)
	check "$label: the file's RRSIG of MX is served" \
		"$(awk '$4 == "RRSIG" && $5 == "MX" { print $9, $11; exit }' "$SIGNED")" \
		"$(dig_full +dnssec $ZONE MX | awk '$4 == "RRSIG" && $5 == "MX" { print $9, $11; exit }')"
	out=$(dig_full +dnssec www.$ZONE A)
	check_nogrep "$label: the placeholder A is never served" "192\.0\.2\.1$" "$out"
	check_nogrep "$label: no RRSIG without DO" "RRSIG" "$(dig_full www.$ZONE A)"
	for src in 127.0.0.1 127.0.1.1 127.0.2.1; do
		delv_check www.$ZONE A "$label: www A from $src" -b "$src"
		delv_check $ZONE A "$label: apex A from $src" -b "$src"
		delv_check pop7.edge.$ZONE A "$label: regional wildcard A from $src" -b "$src"
		delv_check alias.$ZONE A "$label: CNAME into a regional name from $src" -b "$src"
		delv_check www.$ZONE AAAA "$label: www AAAA or its NODATA from $src" -b "$src"
	done
	delv_check $ZONE MX "$label: MX (the file's signature)"
	delv_check $ZONE DNSKEY "$label: DNSKEY (the file's signature)"
	delv_check nope.$ZONE A "$label: NXDOMAIN"
	delv_check token.$ZONE A "$label: NODATA"
	delv_check foo.wild.$ZONE TXT "$label: wildcard TXT"
	delv_check ent.$ZONE TXT "$label: empty non-terminal"
	delv_check secure.$ZONE DS "$label: DS"
	delv_check sub.$ZONE DS "$label: no DS"

	start_unbound 127.0.0.1
	unbound_check www.$ZONE A NOERROR "$label: www A (americas)" 192.0.2.10
	unbound_check www.$ZONE AAAA NOERROR "$label: www AAAA (americas)" 2001:db8:10::1
	unbound_check alias.$ZONE A NOERROR "$label: CNAME into a regional name" 192.0.2.10
	unbound_check nope.$ZONE A NXDOMAIN "$label: NXDOMAIN"
	unbound_check foo.wild.$ZONE TXT NOERROR "$label: wildcard TXT" '"wildcard"'
	unbound_check sub.$ZONE DS NOERROR "$label: no DS"
	stop_unbound
	start_unbound 127.0.2.1
	unbound_check www.$ZONE A NOERROR "$label: www A (apac)" 203.0.113.10
	unbound_check www.$ZONE AAAA NOERROR "$label: regional NODATA AAAA (apac)"
	unbound_check pop7.edge.$ZONE AAAA NOERROR "$label: wildcard regional NODATA (apac)"
	stop_unbound
	# by ECS: unbound at 127.0.0.1 (americas) forwards the client's subnet
	start_unbound 127.0.0.1 ecs
	unbound_check www.$ZONE A NOERROR "$label: www A by ECS (emea)" \
		"198.51.100.10 198.51.100.11" +subnet=198.51.100.0/24
	unbound_check www.$ZONE A NOERROR "$label: www A by ECS (apac)" \
		203.0.113.10 +subnet=198.51.100.128/25
	stop_unbound
	stop_server

	# the zone as served (default region) is a valid signed zone
	"$GEOVIPD" -c "$CONF" --dump-signed $ZONE > "$TEST_TMP/dump.zone" 2>&1
	out=$(ldns-verify-zone -k "$KSK.key" "$TEST_TMP/dump.zone" 2>&1)
	check "$label: ldns-verify-zone on --dump-signed" 0 "$?"
	[ $? = 0 ] || printf '%s\n' "$out" | head -5 | sed 's/^/    /'
}

sign_file
round "NSEC"
sign_file -n -t 0
check_grep "the NSEC3 file has its NSEC3PARAM" "NSEC3PARAM" "$(cat "$SIGNED")"
round "NSEC3"

# --- what --check refuses or warns about
check_signed_refused() {
	out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
	check "--check refuses $1: exit status" 1 "$?"
	check_grep "--check refuses $1: message" "$2" "$out"
}
sign_file
write_config
sed -i "s|^    file: .*|    file: $SIGNED|" "$CONF"
check_signed_refused "a signed file without keys" \
	"$SIGNED:[0-9]+: the zone file is signed \(RRSIG records\) but zone '$ZONE\.' has no \`dnssec: keys\`"

other=$(cd "$KEYDIR" && ldns-keygen -a ECDSAP256SHA256 "$ZONE")
config_signed "{ keys: [\"$KEYDIR/$other\"] }"
check_signed_refused "a key the signed file does not publish" \
	"key .*\.key is not in the DNSKEY RRset of the signed zone file $SIGNED"

sign_file -i 20200101 -e 20200201
config_signed "{ keys: [\"$ZSK\"] }"
check_signed_refused "an expired signed file" \
	"$SIGNED:[0-9]+: the RRSIG of '.*' expired at 2020-02-01 00:00:00 UTC: the signed zone file is out of date; sign it again"

sign_file -e $(($(date +%s) + 2 * 86400))
config_signed "{ keys: [\"$ZSK\"], validity: 14d, refresh: 7d }"
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
check "a file expiring within refresh: --check passes" 0 "$?"
check_grep "a file expiring within refresh: warned" \
	"$SIGNED:[0-9]+: warning: the RRSIG of '.*' expires at .*, within the zone's dnssec 'refresh' \(604800 s\): sign the zone file again soon" "$out"

# an RRset whose RRSIG is missing; an opt-out NSEC3 chain
sign_file
awk '!($4 == "RRSIG" && $5 == "MX")' "$SIGNED" > "$SIGNED.tmp" && mv "$SIGNED.tmp" "$SIGNED"
check_signed_refused "an RRset without its RRSIG" \
	"'$ZONE\.' MX has no RRSIG in the signed zone file: sign the whole file again"
sign_file -n -t 0 -p
check_signed_refused "an opt-out NSEC3 chain" \
	"$SIGNED:[0-9]+: NSEC3 at '.*' has the opt-out flag: opt-out chains are not served"

# a regional name missing from the file's chain (no placeholder for api)
grep -v '^api ' "$UNSIGNED" > "$UNSIGNED.tmp" && mv "$UNSIGNED.tmp" "$UNSIGNED"
sign_file
check_signed_refused "a regional name not in the NSEC chain" \
	"regional name 'api\.$ZONE\.' is not in the signed file's NSEC chain: give it a placeholder A record"
sign_file -n -t 0
check_signed_refused "a regional name not in the NSEC3 chain" \
	"regional name 'api\.$ZONE\.' is not in the signed file's NSEC3 chain"

# an unsigned file with a DNSKEY record
{ cat "$ZONE_FILE"; grep -v '^;' "$KSK.key"; } > "$UNSIGNED"
write_config "    dnssec: { keys: [$KEYS] }"
sed -i "s|^    file: .*|    file: $UNSIGNED|" "$CONF"
check_signed_refused "a DNSKEY in an unsigned file" \
	"$UNSIGNED:[0-9]+: DNSKEY record in a zone file without RRSIG records"
finish
