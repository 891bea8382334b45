#!/bin/bash
# tests/integration/which_site.sh — "which site answered": NSID (RFC 5001)
# with `dig +nsid` (text, hex and hostname forms; an NSID option carrying
# data), CH TXT id.server / hostname.bind / version.server / version.bind,
# hidden identity/version → REFUSED, other CH names REFUSED, and a reload
# that changes them.
. "$(dirname "$0")/lib.sh"
require dig python3

host=$(hostname)
setup 'nsid: "site-fra1"' 'identity: "fra1.example.net"' 'version: "geovip test"'
start_server

# --- NSID
out=$(dig_full +nsid token.$ZONE TXT)
check "NSID: NOERROR with +nsid" NOERROR "$(status "$out")"
check_grep "NSID: the configured text comes back" \
	'NSID: 73 69 74 65 2d 66 72 61 31 \("site-fra1"\)' "$out"
out=$(dig_full token.$ZONE TXT)
check_nogrep "NSID: not sent unless asked for" "NSID" "$out"
out=$(dig_full +nsid www.not-served.example A)
check "NSID on a REFUSED answer: REFUSED" REFUSED "$(status "$out")"
check_grep "NSID on a REFUSED answer: still there" '"site-fra1"' "$out"
# RFC 5001 §2.1: data in the query's NSID option is ignored, still answered
out=$(dig_full +ednsopt=3:6869 token.$ZONE TXT)
check "NSID option with data: NOERROR" NOERROR "$(status "$out")"
check_grep "NSID option with data: answered with ours" '"site-fra1"' "$out"
# with ECS too: both options, and the big answer still truncates cleanly
out=$(dig_full +nsid +subnet=198.51.100.0/24 +bufsize=512 +ignore big.$ZONE TXT)
check_grep "NSID + ECS: NSID present" '"site-fra1"' "$out"
check_grep "NSID + ECS: ECS echoed" "CLIENT-SUBNET: 198.51.100.0/24/0" "$out"
check_grep "NSID + ECS: truncated to the limit" "flags: qr aa tc" "$out"

# --- CH TXT
check "id.server is the identity" '"fra1.example.net"' \
	"$(dig_short CH TXT id.server)"
check "hostname.bind is the identity" '"fra1.example.net"' \
	"$(dig_short CH TXT hostname.bind)"
check "version.server is the version" '"geovip test"' \
	"$(dig_short CH TXT version.server)"
check "version.bind is the version" '"geovip test"' \
	"$(dig_short CH TXT VERSION.BIND)"
out=$(dig_full CH TXT id.server)
check_grep "CH TXT: authoritative" "flags: qr aa" "$out"
check_grep "CH TXT: class CH, TTL 0" "^id\.server\.[[:space:]]+0[[:space:]]+CH[[:space:]]+TXT" "$out"
out=$(dig_full CH A id.server)
check "CH A at id.server: NOERROR" NOERROR "$(status "$out")"
check "CH A at id.server: no answer" 0 "$(count ANSWER "$out")"
check "other CH names: REFUSED" REFUSED "$(status "$(dig_full CH TXT authors.bind)")"
check "class HS: REFUSED" REFUSED "$(status "$(dig_full HS TXT id.server)")"

# --- hidden, defaults and hex, through a reload
write_config 'nsid: "hex:0001ff"' 'identity: false' 'version: false'
kill -HUP "$SERVER_PID"
for i in $(seq 1 50); do
	grep -q "reloaded generation" "$SERVER_LOG" && break
	sleep 0.1
done
check "identity: false → id.server REFUSED" REFUSED \
	"$(status "$(dig_full CH TXT id.server)")"
check "identity: false → hostname.bind REFUSED" REFUSED \
	"$(status "$(dig_full CH TXT hostname.bind)")"
check "version: false → version.bind REFUSED" REFUSED \
	"$(status "$(dig_full CH TXT version.bind)")"
check "version: false → version.server REFUSED" REFUSED \
	"$(status "$(dig_full CH TXT version.server)")"
check_grep "nsid: hex: bytes" "NSID: 00 01 ff" "$(dig_full +nsid token.$ZONE TXT)"
stop_server

write_config 'nsid: true'
start_server
check_grep "nsid: true → the hostname" "NSID: .*\\(\"$host\"\\)" \
	"$(dig_full +nsid token.$ZONE TXT)"
check "identity by default: the hostname" "\"$host\"" \
	"$(dig_short CH TXT id.server)"
check_grep "version by default: geovip and its version" '^"geovip [0-9]+\.[0-9]+' \
	"$(dig_short CH TXT version.bind)"
stop_server

# --- bad values: --check names file and line
for bad in 'nsid: "hex:123"' 'nsid: "hex:zz"' "nsid: \"$(printf '%0129d' 0)\"" \
	"identity: \"$(printf '%0256d' 0)\"" 'log: journal' 'log_level: loud' \
	'pidfile: ""'; do
	write_config "$bad"
	line=$(wc -l < "$CONF")
	out=$("$GEOVIPD" -c "$CONF" --check 2>&1); rc=$?
	check "'${bad:0:24}': --check exits 1" 1 "$rc"
	check_grep "'${bad:0:24}': names file and line" "^$CONF:$line: " "$out"
done
finish
