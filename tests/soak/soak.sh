#!/bin/bash
# tests/soak/soak.sh — `make soak`: geovipd under mixed UDP and TCP load
# (tests/soak/load.py) for SOAK_SECONDS (default 180) while a SIGHUP every
# 3 s swaps two valid configs. Fails on a crash, an unanswered UDP query, a
# TCP error, an answer neither config allows, a refused reload, RSS growth,
# or an exit status other than 0 on SIGTERM. See tests/soak/README.md.
. "$(dirname "$0")/../integration/lib-extra.sh"
require dig python3

SOAK_SECONDS=${SOAK_SECONDS:-180}
SOAK_UDP_RATE=${SOAK_UDP_RATE:-2000}
SOAK_TCP_RATE=${SOAK_TCP_RATE:-800}
HUP_EVERY=3
RSS_EVERY=10
# Final RSS vs the sample at 30 s: at most 2 MiB or 10% more, whichever is
# larger. By 30 s every worker has served thousands of UDP and TCP queries
# and ten reloads, so its buffers, libevent's and glibc's arenas have their
# working size; what grows after that is a leak. A leak of one small
# allocation per reload (60 in 3 minutes) stays under the bound — that is
# valgrind's job — but one per query (~500k queries) or one snapshot per
# reload does not.
RSS_BOUND_MIN_KB=2048
RSS_BOUND_PCT=10
LOAD="$(dirname "$0")/load.py"

# The test zone, plus a CNAME to a regional name, a zone wildcard and some
# filler so a reload does real work.
pick_port
write_zone 2024010101
{
	echo "shop    IN CNAME www"
	echo "*.wild  IN A     192.0.2.99"
	awk 'BEGIN { for (i = 0; i < 2000; i++)
		printf "f%d IN A 192.0.2.%d\n", i, i % 250 + 1 }'
} >> "$ZONE_FILE"

# Config A is write_geo_config's; B gives americas and emea other VIPs.
write_geo_config "$TEST_TMP/a.yaml"
sed -e 's|^    vips: \[192\.0\.2\.10, "2001:db8:10::1"\]|    vips: [192.0.2.20, 192.0.2.21, "2001:db8:10::1"]|' \
	-e 's|^    vips: \[198\.51\.100\.10, 198\.51\.100\.11, "2001:db8:20::1"\]|    vips: [198.51.100.20, "2001:db8:20::2"]|' \
	"$TEST_TMP/a.yaml" > "$TEST_TMP/b.yaml"
[ "$(diff "$TEST_TMP/a.yaml" "$TEST_TMP/b.yaml" | grep -c '^>')" = 2 ] ||
	{ fail "test setup: config B not derived from A"; finish; }
cp "$TEST_TMP/a.yaml" "$CONF"

# The query mix: "answers" lists what config A and config B give; {r} is
# a fresh random label per query.
Z=$ZONE.
cat > "$TEST_TMP/spec.json" <<EOF
[
 {"name": "www.$Z", "type": "A", "rcode": "NOERROR",
  "answers": [["192.0.2.10"], ["192.0.2.20", "192.0.2.21"]]},
 {"name": "www.$Z", "type": "AAAA", "rcode": "NOERROR",
  "answers": [["2001:db8:10::1"]]},
 {"name": "shop.$Z", "type": "A", "rcode": "NOERROR",
  "answers": [["192.0.2.10", "www.$Z"], ["192.0.2.20", "192.0.2.21", "www.$Z"]]},
 {"name": "x{r}.edge.$Z", "type": "A", "rcode": "NOERROR",
  "answers": [["192.0.2.10"], ["192.0.2.20", "192.0.2.21"]]},
 {"name": "h{r}.wild.$Z", "type": "A", "rcode": "NOERROR",
  "answers": [["192.0.2.99"]]},
 {"name": "nope-{r}.$Z", "type": "A", "rcode": "NXDOMAIN", "answers": [[]]},
 {"name": "www.$Z", "type": "A", "ecs": "198.51.100.0/24", "scope_min": 1,
  "rcode": "NOERROR",
  "answers": [["198.51.100.10", "198.51.100.11"], ["198.51.100.20"]]},
 {"name": "www.$Z", "type": "AAAA", "ecs": "2001:db8:2::/56", "scope_min": 1,
  "rcode": "NOERROR", "answers": [["2001:db8:20::1"], ["2001:db8:20::2"]]},
 {"name": "token.$Z", "type": "TXT", "rcode": "NOERROR",
  "answers": [["$TOKEN"]]},
 {"name": "mail.$Z", "type": "A", "rcode": "NOERROR",
  "answers": [["192.0.2.25"]]}
]
EOF

start_server
echo "# soak: $SOAK_SECONDS s, UDP $SOAK_UDP_RATE q/s, TCP $SOAK_TCP_RATE q/s," \
	"SIGHUP every $HUP_EVERY s, port $PORT"
python3 "$LOAD" --port "$PORT" --spec "$TEST_TMP/spec.json" \
	--duration "$SOAK_SECONDS" --udp-rate "$SOAK_UDP_RATE" \
	--tcp-rate "$SOAK_TCP_RATE" > "$TEST_TMP/load.out" 2>&1 &
loader=$!

t0=$(date +%s)
next_hup=$HUP_EVERY
next_rss=$RSS_EVERY
hups=0
died=no
RSS_AT=()     # RSS_AT[seconds] = VmRSS kB
while kill -0 "$loader" 2>/dev/null; do
	if ! kill -0 "$SERVER_PID" 2>/dev/null; then
		died=yes
		break
	fi
	el=$(($(date +%s) - t0))
	if [ "$el" -ge "$next_hup" ] && [ "$el" -lt "$SOAK_SECONDS" ]; then
		if [ $((hups % 2)) = 0 ]; then src=b; else src=a; fi
		cp "$TEST_TMP/$src.yaml" "$CONF.tmp" && mv -f "$CONF.tmp" "$CONF"
		kill -HUP "$SERVER_PID"
		hups=$((hups + 1))
		next_hup=$((next_hup + HUP_EVERY))
	fi
	if [ "$el" -ge "$next_rss" ]; then
		RSS_AT[$next_rss]=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")
		next_rss=$((next_rss + RSS_EVERY))
	fi
	sleep 0.2
done
if [ "$died" = yes ]; then
	fail "geovipd died during the soak"
	kill "$loader" 2>/dev/null
	wait "$loader" 2>/dev/null
	finish
fi
ok "geovipd alive for the whole soak"
wait "$loader"
load_rc=$?
rss_final=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SERVER_PID/status")

summary=$(head -1 "$TEST_TMP/load.out")
sed -n '2,$p' "$TEST_TMP/load.out" | sed 's/^/# /'
field() { printf '%s\n' "$summary" | sed -n "s/.*\b$1=\([0-9.]*\).*/\1/p"; }
check "load driver: no problem (exit 0)" 0 "$load_rc"
check "zero unanswered UDP queries" 0 "$(field udp_unanswered)"
check "zero invalid UDP answers" 0 "$(field udp_invalid)"
check "zero invalid TCP answers" 0 "$(field tcp_invalid)"
check "zero TCP errors" 0 "$(field tcp_errors)"
check "every TCP query answered" "$(field tcp_sent)" "$(field tcp_answered)"
if [ "$(field udp_set0)" -gt 0 ] 2>/dev/null && [ "$(field udp_set1)" -gt 0 ] &&
	[ "$(field tcp_set0)" -gt 0 ] && [ "$(field tcp_set1)" -gt 0 ]; then
	ok "answers from both configs (UDP $(field udp_set0)/$(field udp_set1), TCP $(field tcp_set0)/$(field tcp_set1))"
else
	fail "not both configs seen: $summary"
fi
udp_want=$((SOAK_UDP_RATE * SOAK_SECONDS * 9 / 10))
if [ "$(field udp_sent)" -ge "$udp_want" ] 2>/dev/null; then
	ok "UDP rate held ($(field udp_sent) ≥ $udp_want queries)"
else
	fail "UDP rate not held: $(field udp_sent) < $udp_want queries"
fi

# every SIGHUP reloaded (3 s apart, none coalesced), none refused
wait_log "reloaded generation" "$hups" 5
reloads=$(grep -c "reloaded generation" "$SERVER_LOG")
check "every SIGHUP reloaded" "$hups" "$reloads"
check "no reload refused" 0 "$(grep -c 'reload failed' "$SERVER_LOG")"

# RSS: final vs the 30 s sample (the first one on a short soak)
ref_at=30
[ -n "${RSS_AT[30]:-}" ] || ref_at=$RSS_EVERY
ref=${RSS_AT[$ref_at]:-}
samples=
for s in "${!RSS_AT[@]}"; do samples="$samples ${s}s:${RSS_AT[$s]}"; done
if [ -n "$ref" ] && [ -n "$rss_final" ]; then
	bound=$((ref * RSS_BOUND_PCT / 100))
	[ "$bound" -lt "$RSS_BOUND_MIN_KB" ] && bound=$RSS_BOUND_MIN_KB
	if [ $((rss_final - ref)) -le "$bound" ]; then
		ok "RSS stable: ${ref} kB at ${ref_at} s, ${rss_final} kB at the end (bound +$bound kB)"
	else
		fail "RSS grew: ${ref} kB at ${ref_at} s, ${rss_final} kB at the end (> +$bound kB)"
	fi
else
	fail "RSS not sampled (soak shorter than $RSS_EVERY s?)"
fi

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"

echo "# ---- soak summary"
echo "# duration      $SOAK_SECONDS s"
echo "# queries       $(field queries) ($(field qps) q/s): UDP $(field udp_sent) sent," \
	"$(field udp_answered) answered, $(field udp_unanswered) unanswered ($(field udp_qps) q/s);" \
	"TCP $(field tcp_sent) sent, $(field tcp_answered) answered over" \
	"$(field tcp_connections) connections"
echo "# invalid       UDP $(field udp_invalid), TCP $(field tcp_invalid); TCP errors $(field tcp_errors)"
echo "# config A / B  UDP $(field udp_set0)/$(field udp_set1), TCP $(field tcp_set0)/$(field tcp_set1) (answers that differ between them)"
echo "# reloads       $reloads for $hups SIGHUPs"
echo "# RSS (kB)     $samples end:$rss_final"
finish
