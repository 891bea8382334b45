#!/bin/bash
# tests/integration/reload.sh — SIGHUP: a changed zone answers within 1 s;
# a broken config, zone or geo database keeps the old set answering and
# logs FILE:LINE; and reloads under UDP load (two configs swapped every
# ~200 ms, then a broken one) lose no query and never mix two sets.
. "$(dirname "$0")/lib-extra.sh"
require dig python3

pick_port
write_zone 2024010101
write_geo_config "$CONF"
cp "$CONF" "$TEST_TMP/good.yaml"
start_server
W=www.$ZONE

# put_conf FILE — replaces the config atomically (never half-written).
put_conf() {
	cp "$1" "$CONF.tmp" && mv -f "$CONF.tmp" "$CONF"
}

# now_ms — monotonic enough for one second's measure.
now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# hup_and_expect_failure NAME — SIGHUP, then waits for one more
# "reload failed" line; the old set must still answer.
FAILED=0
hup_and_expect_failure() {
	FAILED=$((FAILED + 1))
	kill -HUP "$SERVER_PID"
	if wait_log "reload failed, keeping generation" "$FAILED" 5; then
		ok "$1: reload refused"
	else
		fail "$1: no 'reload failed' line within 5 s"
	fi
	kill -0 "$SERVER_PID" 2>/dev/null || fail "$1: server died"
	check "$1: old zone still answers" "$TOKEN" "$(dig_short token.$ZONE TXT | tr -d '"')"
	check "$1: old fresh TXT still answers" "fresh-$TOKEN" \
		"$(dig_short fresh.$ZONE TXT | tr -d '"')"
	check "$1: regional answers unchanged" "192.0.2.10" "$(dig_short $W A)"
	check "$1: ECS answers unchanged" "198.51.100.10 198.51.100.11" \
		"$(dig_short +subnet=198.51.100.0/24 $W A)"
}

# --- (a) a new TXT in the zone answers within a second of SIGHUP
check "before reload: fresh.$ZONE is NXDOMAIN" NXDOMAIN \
	"$(status "$(dig_full fresh.$ZONE TXT)")"
write_zone 2024010102
echo "fresh   IN TXT \"fresh-$TOKEN\"" >> "$ZONE_FILE"
cp "$ZONE_FILE" "$TEST_TMP/good.zone"
t0=$(now_ms)
kill -HUP "$SERVER_PID"
got=
for i in $(seq 1 40); do
	got=$(dig @127.0.0.1 -p "$PORT" +tries=1 +time=1 +short fresh.$ZONE TXT | tr -d '"')
	[ "$got" = "fresh-$TOKEN" ] && break
	sleep 0.02
done
elapsed=$(($(now_ms) - t0))
check "after SIGHUP: new TXT answered" "fresh-$TOKEN" "$got"
if [ "$got" = "fresh-$TOKEN" ] && [ "$elapsed" -le 1000 ]; then
	ok "new zone data answered ${elapsed} ms after SIGHUP (≤ 1000)"
else
	fail "new zone data not answered within 1 s (${elapsed} ms)"
fi
check_grep "reload logged" "reloaded generation 2" "$(cat "$SERVER_LOG")"
check "SOA serial of the new zone" 2024010102 \
	"$(dig_short $ZONE SOA | awk '{ print $3 }')"

# --- (b) broken config: unknown key, named by file and line
cp "$CONF" "$TEST_TMP/good.yaml"
printf 'no_such_key: 1\n' >> "$CONF"
bad_line=$(wc -l < "$CONF")
hup_and_expect_failure "unknown key"
check_grep "unknown key: log names $CONF:$bad_line" \
	"error: $CONF:$bad_line: .*no_such_key" "$(cat "$SERVER_LOG")"
put_conf "$TEST_TMP/good.yaml"

# broken zone: a syntax error in the zone file
printf 'broken  IN A   not-an-address\n' >> "$ZONE_FILE"
bad_line=$(wc -l < "$ZONE_FILE")
hup_and_expect_failure "zone syntax error"
check_grep "zone syntax error: log names $ZONE_FILE:$bad_line" \
	"error: $ZONE_FILE:$bad_line: " "$(cat "$SERVER_LOG")"
cp "$TEST_TMP/good.zone" "$ZONE_FILE"

# missing geo database
geo_line=$(grep -n '^geoip:' "$CONF" | cut -d: -f1)
sed "s|^geoip: .*|geoip: $TEST_TMP/missing.mmdb|" "$TEST_TMP/good.yaml" > "$TEST_TMP/nogeo.yaml"
put_conf "$TEST_TMP/nogeo.yaml"
hup_and_expect_failure "missing geo file"
check_grep "missing geo file: log names $CONF:$geo_line" \
	"error: $CONF:$geo_line: .*missing\.mmdb" "$(cat "$SERVER_LOG")"

# garbage geo database: random bytes, then a real database cut in half
head -c 4096 /dev/urandom > "$TEST_TMP/garbage.mmdb"
sed "s|^geoip: .*|geoip: $TEST_TMP/garbage.mmdb|" "$TEST_TMP/good.yaml" > "$TEST_TMP/garbage.yaml"
put_conf "$TEST_TMP/garbage.yaml"
hup_and_expect_failure "garbage geo file"
check_grep "garbage geo file: log names $CONF:$geo_line" \
	"error: $CONF:$geo_line: .*garbage\.mmdb" "$(cat "$SERVER_LOG")"
head -c $(($(wc -c < "$GEO_DB") / 2)) "$GEO_DB" > "$TEST_TMP/garbage.mmdb"
hup_and_expect_failure "truncated geo file"

# zone file gone
put_conf "$TEST_TMP/good.yaml"
mv "$ZONE_FILE" "$ZONE_FILE.away"
hup_and_expect_failure "missing zone file"
check_grep "missing zone file: log names the zone file" \
	"error: .*$ZONE_FILE" "$(cat "$SERVER_LOG")"
mv "$ZONE_FILE.away" "$ZONE_FILE"

# and a good config reloads again after all that
kill -HUP "$SERVER_PID"
if wait_log "reloaded generation 3" 1 5; then
	ok "good config reloads after the failures (generation 3)"
else
	fail "no 'reloaded generation 3' after restoring the config"
fi

# --- (c) reloads under load: set A and set B give americas (127.0.0.1's
# region) different VIPs; never a mix, never a lost query.
SET_A="192.0.2.10,192.0.2.11"
SET_B="192.0.2.20,192.0.2.21"
sed 's|^    vips: \[192\.0\.2\.10, "2001:db8:10::1"\]|    vips: [192.0.2.10, 192.0.2.11, "2001:db8:10::1"]|' \
	"$TEST_TMP/good.yaml" > "$TEST_TMP/a.yaml"
sed 's|^    vips: \[192\.0\.2\.10, "2001:db8:10::1"\]|    vips: [192.0.2.20, 192.0.2.21, "2001:db8:10::2"]|' \
	"$TEST_TMP/good.yaml" > "$TEST_TMP/b.yaml"
{ cat "$TEST_TMP/b.yaml"; echo "shed: { broken"; } > "$TEST_TMP/broken.yaml"
if cmp -s "$TEST_TMP/a.yaml" "$TEST_TMP/good.yaml" || cmp -s "$TEST_TMP/a.yaml" "$TEST_TMP/b.yaml"; then
	fail "test setup: could not derive configs A and B"
fi
put_conf "$TEST_TMP/a.yaml"
kill -HUP "$SERVER_PID"
wait_log "reloaded generation 4" 1 5 || fail "config A not loaded"
check "set A before the load" "192.0.2.10 192.0.2.11" "$(dig_short $W A)"

reloads_before=$(grep -c "reloaded generation" "$SERVER_LOG")
python3 "$DNSCLIENT" --port "$PORT" load --name $W --duration 5 --window 16 \
	--timeout 2 --sets "$SET_A|$SET_B" > "$TEST_TMP/load.out" 2>&1 &
loader=$!
sleep 0.3
hups=0
for i in $(seq 1 14); do
	if [ $((i % 2)) = 1 ]; then put_conf "$TEST_TMP/b.yaml"; else put_conf "$TEST_TMP/a.yaml"; fi
	kill -HUP "$SERVER_PID"
	hups=$((hups + 1))
	sleep 0.2
done
# the last good one (A) must be in place before the broken one is written
last=
for i in $(seq 1 50); do
	last=$(dig_short $W A)
	[ "$last" = "192.0.2.10 192.0.2.11" ] && break
	sleep 0.05
done
check "under load: last good set (A) in place" "192.0.2.10 192.0.2.11" "$last"
put_conf "$TEST_TMP/broken.yaml"
kill -HUP "$SERVER_PID"
FAILED=$((FAILED + 1))
wait_log "reload failed, keeping generation" "$FAILED" 5 ||
	fail "under load: broken config not refused within 5 s"
timeout 30 tail --pid=$loader -f /dev/null
wait "$loader"
load=$(head -1 "$TEST_TMP/load.out")
echo "# load: $load"
sed -n '2,$p' "$TEST_TMP/load.out" | head -10
lost=$(printf '%s\n' "$load" | sed -n 's/.* lost=\([0-9]*\).*/\1/p')
other=$(printf '%s\n' "$load" | sed -n 's/.* other=\([0-9]*\).*/\1/p')
sent=$(printf '%s\n' "$load" | sed -n 's/^sent=\([0-9]*\).*/\1/p')
sets=$(printf '%s\n' "$load" | sed -n 's/.* sets=\([0-9]*\/[0-9]*\).*/\1/p')
check "under load: zero lost queries" 0 "$lost"
check "under load: every answer is exactly set A or set B" 0 "$other"
if [ "${sent:-0}" -ge 5000 ]; then
	ok "under load: $sent queries in 5 s"
else
	fail "under load: only ${sent:-0} queries sent in 5 s"
fi
if [ "${sets%/*}" -gt 0 ] 2>/dev/null && [ "${sets#*/}" -gt 0 ] 2>/dev/null; then
	ok "under load: both sets answered ($sets)"
else
	fail "under load: not both sets seen ('$sets')"
fi
reloads=$(($(grep -c "reloaded generation" "$SERVER_LOG") - reloads_before))
if [ "$reloads" -ge $((hups / 2)) ]; then
	ok "under load: $reloads reloads applied for $hups SIGHUPs"
else
	fail "under load: only $reloads reloads applied for $hups SIGHUPs"
fi
check_grep "under load: the broken config is named with a line" \
	"error: $CONF:[0-9]+: " "$(tail -5 "$SERVER_LOG")"
check "after the broken config: the last good set (A) answers" \
	"192.0.2.10 192.0.2.11" "$(dig_short $W A)"
check "after the broken config: zone still served" "$TOKEN" \
	"$(dig_short token.$ZONE TXT | tr -d '"')"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
