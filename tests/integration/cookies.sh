#!/bin/bash
# tests/integration/cookies.sh — DNS cookies (RFC 7873/9018) with kdig
# against the real server: a client cookie gets a server cookie, sending
# both back is accepted as is, a wrong server cookie gets BADCOOKIE and a
# new cookie over UDP and a normal answer over TCP, a client with a valid
# cookie is never rate limited while its network is; without a
# cookie_secret a random one is used and the log says to set one.
. "$(dirname "${BASH_SOURCE[0]}")/lib-extra.sh"

require kdig python3

FLOOD="$top_srcdir/tests/integration/flood.py"
SECRET=e5e973e5a6b2a43f48e7dc849e37bfcf
CC=2464c4abcf10c957
RATE=20
FLOOD_COUNT=900                 # 300/s from each of two hosts of 127.0.12.0/24
DURATION=3

setup "cookie_secret: \"$SECRET\"" \
	"rrl:" \
	"  responses_per_second: $RATE" \
	"  slip: 2"
start_server

# cookie_of OUTPUT — the COOKIE option kdig shows, lower case.
cookie_of() {
	printf '%s\n' "$1" | sed -n 's/^;; COOKIE: \([0-9A-Fa-f]*\).*/\1/p' |
		tail -1 | tr 'A-F' 'a-f'
}

kq() {
	kdig @127.0.0.1 -p "$PORT" +retry=0 +timeout=2 "$@" 2>&1
}

# kstatus OUTPUT — the rcode kdig shows ("status: NOERROR;").
kstatus() {
	printf '%s\n' "$1" | sed -n 's/.*status: \([A-Z]*\);.*/\1/p' | tail -1
}

# --- a client cookie alone: answered, with a server cookie (RFC 9018: 16 bytes)
out=$(kq +cookie=$CC "token.$ZONE" TXT)
check "client cookie only: NOERROR" NOERROR "$(kstatus "$out")"
check_grep "client cookie only: answered" "$TOKEN" "$out"
full=$(cookie_of "$out")
check "client cookie echoed with a version-1 server cookie" \
	yes "$(printf '%s' "$full" | grep -Eq "^${CC}01000000[0-9a-f]{24}$" && echo yes)"

# --- the cookie back: valid, echoed unchanged
out=$(kq +cookie=$full "token.$ZONE" TXT)
check "valid server cookie: NOERROR" NOERROR "$(kstatus "$out")"
check_grep "valid server cookie: answered" "$TOKEN" "$out"
check "valid server cookie: echoed unchanged" "$full" "$(cookie_of "$out")"

# --- a wrong server cookie: BADCOOKIE and a new cookie over UDP
last=${full: -1}
bad=${full%?}$([ "$last" = 0 ] && echo 1 || echo 0)
out=$(kq +nobadcookie +cookie=$bad "token.$ZONE" TXT)
check "wrong server cookie over UDP: BADCOOKIE" BADCOOKIE "$(kstatus "$out")"
check "BADCOOKIE: no answer" 0 "$(printf '%s\n' "$out" | sed -n 's/.*ANSWER: \([0-9]*\).*/\1/p')"
new=$(cookie_of "$out")
check "BADCOOKIE: a new valid cookie to retry with" \
	yes "$([ "$new" != "$bad" ] && [ "${new:0:24}" = "${CC}01000000" ] && echo yes)"
out=$(kq +cookie=$new "token.$ZONE" TXT)
check "retry with the new cookie: NOERROR" NOERROR "$(kstatus "$out")"
# kdig retries by itself by default, as resolvers do
out=$(kq +cookie=$bad "token.$ZONE" TXT)
check_grep "kdig's own retry after BADCOOKIE is answered" "$TOKEN" "$out"

# --- over TCP a wrong cookie is answered normally, with a new cookie
out=$(kq +tcp +nobadcookie +cookie=$bad "token.$ZONE" TXT)
check "wrong server cookie over TCP: NOERROR" NOERROR "$(kstatus "$out")"
check_grep "wrong server cookie over TCP: answered" "$TOKEN" "$out"

# --- malformed: a 12-byte option is FORMERR (RFC 7873 §5.2.2)
out=$(kq +ednsopt=10:${CC}01020304 "token.$ZONE" TXT)
check "12-byte COOKIE option: FORMERR" FORMERR "$(kstatus "$out")"

# --- RRL: a flood with a valid cookie is answered in full; its network's
# other host, without one, is limited
out=$(kq -b 127.0.12.1 +cookie=$CC "token.$ZONE" TXT)
flood_cookie=$(cookie_of "$out")
check "cookie for 127.0.12.1" yes "$([ ${#flood_cookie} = 48 ] && echo yes)"
timeout 60 python3 "$FLOOD" --port "$PORT" --duration "$DURATION" \
	--wait 1.5 --name "token.$ZONE" --type TXT \
	--stream "cookie=127.0.12.1:$FLOOD_COUNT" \
	--stream "plain=127.0.12.2:$FLOOD_COUNT" \
	--cookie "cookie=$flood_cookie" > "$TEST_TMP/flood.txt" 2>&1
cat "$TEST_TMP/flood.txt"
field() {
	sed -n "s/^$1 .*\b$2=\([0-9.]*\).*/\1/p" "$3"
}
check "flood with a valid cookie: every answer full" "$FLOOD_COUNT 0 0" \
	"$(field cookie full "$TEST_TMP/flood.txt") $(field cookie tc "$TEST_TMP/flood.txt") $(field cookie none "$TEST_TMP/flood.txt")"
plain=$(field plain full "$TEST_TMP/flood.txt")
elapsed=$(field plain elapsed "$TEST_TMP/flood.txt")
max=$(awk -v r=$RATE -v e="${elapsed:-0}" 'BEGIN { printf "%d", (r * e + r) * 1.1 + 5 }')
if [ -n "$plain" ] && [ "$plain" -le "$max" ]; then
	ok "flood without a cookie from the same /24: limited ($plain full, at most $max)"
else
	fail "flood without a cookie: '$plain' full answers, want at most $max"
fi
check_nogrep "a configured secret: no warning" "no cookie_secret" "$(cat "$SERVER_LOG")"
stop_server TERM
check "server stops cleanly" 0 "$SERVER_STATUS"

# --- no cookie_secret: a random secret, a warning, cookies still work
write_config
start_server
check_grep "no cookie_secret: the log says to set one" \
	"warning: .*no cookie_secret: .*anycast fleet should share one" "$(cat "$SERVER_LOG")"
out=$(kq +cookie=$CC "token.$ZONE" TXT)
c=$(cookie_of "$out")
check "random secret: a server cookie" yes "$([ ${#c} = 48 ] && echo yes)"
check "random secret: not the configured one's" yes "$([ "$c" != "$full" ] && echo yes)"
# a reload keeps the random secret: the cookie stays valid
kill -HUP "$SERVER_PID"
wait_log "reloaded generation 2" 1 $((5 * WAIT_SCALE)) || fail "reload not logged"
out=$(kq +nobadcookie +cookie=$c "token.$ZONE" TXT)
check "random secret kept across a reload: cookie still valid" \
	"NOERROR $c" "$(kstatus "$out") $(cookie_of "$out")"
stop_server TERM
check "server stops cleanly" 0 "$SERVER_STATUS"

finish
