#!/bin/bash
# tests/integration/dnssec.sh — DNSSEC checked by real validators: keys made
# by ldns-keygen at test time, the zone signed by geovipd at load, then delv
# (with the zone's trust anchor) and a validating unbound (stub zone to
# geovipd) must validate every answer kind — A, AAAA, regional NODATA,
# NXDOMAIN, wildcard, CNAME into a regional name, referrals with and
# without DS — from several regions; without DO nothing changes.
. "$(dirname "$0")/lib.sh"
require dig python3 delv ldns-keygen

KEYDIR="$TEST_TMP/keys"
mkdir -p "$KEYDIR"

# keys KSK_ALG ZSK_ALG|- — generate a KSK (+ ZSK); sets KEYS (YAML list)
# and ANCHOR (the KSK's DNSKEY, for the validators)
make_keys() {
	local ksk zsk
	rm -f "$KEYDIR"/K*
	ksk=$(cd "$KEYDIR" && ldns-keygen -a "$1" -k "$ZONE") ||
		{ echo "FAIL - ldns-keygen -a $1"; exit 1; }
	KEYS="\"$KEYDIR/$ksk\""
	if [ "$2" != - ]; then
		zsk=$(cd "$KEYDIR" && ldns-keygen -a "$2" "$ZONE") ||
			{ echo "FAIL - ldns-keygen -a $2"; exit 1; }
		KEYS="$KEYS, \"$KEYDIR/$zsk.key\""
	fi
	KSK="$KEYDIR/$ksk"
	# delv's anchor file: the KSK as a static key
	awk '!/^;/ && NF { sub(/;.*/, ""); printf "trust-anchors {\n  %s static-key %s %s %s \"", $1, $4, $5, $6;
		for (i = 7; i <= NF; i++) printf "%s", $i; print "\";\n};" }' \
		"$KSK.key" > "$TEST_TMP/anchor.conf"
}

# the test zone, plus a CNAME into a regional name, a wildcard CNAME, an
# empty non-terminal, a signed delegation (DS) and an unsigned one
write_signed_zone() {
	write_zone 2024010101
	cat >> "$ZONE_FILE" <<EOF
alias   IN CNAME www
*.wild  IN TXT "wildcard"
*.wcn   IN CNAME api
a.b.ent IN TXT "under an empty non-terminal"
secure  IN NS  ns.secure
secure  IN DS  12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
ns.secure IN A 192.0.2.55
EOF
}

pick_port
UPORT=$PORT
pick_port
while [ "$PORT" = "$UPORT" ]; do pick_port; done
write_signed_zone

# delv_check NAME TYPE WHAT [DELV_ARGS...] — delv must say "fully validated"
delv_check() {
	local name=$1 type=$2 what=$3 out
	shift 3
	out=$(timeout 20 delv @127.0.0.1 -p "$PORT" -a "$TEST_TMP/anchor.conf" \
		+root="$ZONE" "$@" "$name" "$type" 2>&1)
	check_grep "delv: $what" "fully validated" "$out"
	check_nogrep "delv: $what: no validation failure" \
		"validation failure|insecurity proof failed|no valid|bogus|broken trust|Invalid option" "$out"
}

UNBOUND_PID=
UNBOUND_DIR="$TEST_TMP/unbound"
mkdir -p "$UNBOUND_DIR"
stop_unbound() {
	[ -n "$UNBOUND_PID" ] || return 0
	kill "$UNBOUND_PID" 2>/dev/null
	wait "$UNBOUND_PID" 2>/dev/null
	UNBOUND_PID=
}
trap 'stop_unbound; lib_cleanup' EXIT

# start_unbound SOURCE — a validating unbound on $UPORT with the KSK as its
# trust anchor and a stub zone to geovipd, querying from SOURCE (so that
# geovipd puts it in that address's region)
start_unbound() {
	cat > "$UNBOUND_DIR/unbound.conf" <<EOF
server:
  interface: 127.0.0.1
  port: $UPORT
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "$UNBOUND_DIR"
  pidfile: ""
  use-syslog: no
  logfile: "$UNBOUND_DIR/unbound.log"
  verbosity: 1
  val-log-level: 2
  do-not-query-localhost: no
  do-ip6: no
  outgoing-interface: $1
  access-control: 127.0.0.0/8 allow
  module-config: "validator iterator"
  trust-anchor-file: "$KSK.key"
  qname-minimisation: no
  # test. is one of unbound's built-in local zones (RFC 6761)
  local-zone: "test." nodefault
stub-zone:
  name: "$ZONE"
  stub-addr: 127.0.0.1@$PORT
remote-control:
  control-enable: no
EOF
	: > "$UNBOUND_DIR/unbound.log"
	unbound -d -c "$UNBOUND_DIR/unbound.conf" 2>>"$UNBOUND_DIR/unbound.log" &
	UNBOUND_PID=$!
	local i
	for i in $(seq 1 50); do
		dig @127.0.0.1 -p "$UPORT" +tries=1 +time=1 $ZONE SOA >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	fail "unbound did not start:"
	sed 's/^/    /' "$UNBOUND_DIR/unbound.log" | tail -20
}

# unbound_check NAME TYPE RCODE WHAT [EXPECT_ANSWER] — through unbound: the
# rcode, the AD bit, and the answer when given
unbound_check() {
	local out
	out=$(dig @127.0.0.1 -p "$UPORT" +tries=1 +time=5 +dnssec "$1" "$2" 2>&1)
	check "unbound: $4: rcode" "$3" "$(status "$out")"
	check_grep "unbound: $4: AD bit" "^qr rd ra ad" "$(flags "$out")"
	if [ -n "${5:-}" ]; then
		check "unbound: $4: answer" "$5" "$(printf '%s\n' "$out" |
			awk -v t="$2" '$4 == t { print $5 }' | sort | tr '\n' ' ' |
			sed 's/ $//')"
	fi
}

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
round() {
	local label=$1
	make_keys "$2" "$3"
	write_config "    dnssec: { keys: [$KEYS], validity: 14d, refresh: 7d }"
	start_server

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

round "ECDSA KSK+Ed25519 ZSK" ECDSAP256SHA256 ED25519
round "Ed25519 CSK" ED25519 -
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
# check_refused WHAT PATTERN DNSSEC_YAML
check_refused() {
	write_config "    dnssec: $3"
	out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
	check "--check refuses $1: exit status" 1 "$?"
	check_grep "--check refuses $1: message" "$2" "$out"
}
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
check_refused "a missing key file" "nokey\.key: " "{ keys: [\"$KEYDIR/nokey\"] }"
(cd "$KEYDIR" && ldns-keygen -a ECDSAP256SHA256 -k other.test >/dev/null)
check_refused "a key of another zone" "not for zone $ZONE" \
	"{ keys: [\"$(ls "$KEYDIR"/Kother.test*.key)\"] }"
check_refused "nsec3 (not done yet)" "nsec3' is not supported yet" \
	"{ keys: [\"$KSK\"], denial: nsec3 }"
check_refused "refresh not shorter than validity" "'refresh' must be shorter" \
	"{ keys: [\"$KSK\"], validity: 7d, refresh: 1w }"
check_refused "a bad duration" "must be a duration" \
	"{ keys: [\"$KSK\"], validity: 14x }"

finish
