# tests/integration/lib-dnssec.sh — helpers on top of lib.sh for
# dnssec.sh (NSEC) and dnssec_nsec3.sh: keys made by ldns-keygen at test
# time, the signed test zone, delv with the zone's trust anchor, a
# validating unbound (stub zone to geovipd; optionally forwarding ECS),
# and --check refusals. Sourced.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
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

# start_unbound SOURCE [ecs] — a validating unbound on $UPORT with the KSK
# as its trust anchor and a stub zone to geovipd, querying from SOURCE (so
# that geovipd puts it in that address's region); with "ecs", unbound's
# subnet module forwards the client's ECS option to geovipd
start_unbound() {
	local modules="validator iterator" ecs=""
	if [ "${2:-}" = ecs ]; then
		modules="subnetcache validator iterator"
		ecs="  send-client-subnet: 127.0.0.1
  max-client-subnet-ipv4: 32
  client-subnet-always-forward: yes"
	fi
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
  module-config: "$modules"
$ecs
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

# unbound_check NAME TYPE RCODE WHAT [EXPECT_ANSWER [DIG_ARGS...]] —
# through unbound: the rcode, the AD bit, and the answer when not empty
unbound_check() {
	local out
	out=$(dig @127.0.0.1 -p "$UPORT" +tries=1 +time=5 +dnssec "${@:6}" "$1" "$2" 2>&1)
	check "unbound: $4: rcode" "$3" "$(status "$out")"
	check_grep "unbound: $4: AD bit" "^qr rd ra ad" "$(flags "$out")"
	if [ -n "${5:-}" ]; then
		check "unbound: $4: answer" "$5" "$(printf '%s\n' "$out" |
			awk -v t="$2" '$4 == t { print $5 }' | sort | tr '\n' ' ' |
			sed 's/ $//')"
	fi
}

# check_refused WHAT PATTERN DNSSEC_YAML — --check refuses the dnssec:
# settings with a clear message
check_refused() {
	write_config "    dnssec: $3"
	out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
	check "--check refuses $1: exit status" 1 "$?"
	check_grep "--check refuses $1: message" "$2" "$out"
}
