#!/bin/bash
# tests/integration/fleet.sh — fleet-wide overrides through a real etcd on
# loopback: two geovipd instances watching one prefix; one
# `geovipctl --fleet shed` changes both within 2 s (measured); with etcd
# killed both keep the override until it expires; etcd restarted, both
# resync (a change written while one was disconnected appears there);
# malformed and stale values are logged with their key and change nothing
# (a bad value at a key that held a valid one keeps that one); --fleet
# undo, overrides, and bad input. Health from etcd: fleet_health.sh.
. "$(dirname "$0")/lib-extra.sh"
require dig python3
. "$(dirname "$0")/lib-etcd.sh"
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"
AMERICAS=192.0.2.10
APAC=203.0.113.10
EMEA="198.51.100.10 198.51.100.11"
PREFIX=/geovip/test$$
CLIENT=127.0.10.1 # no country in the sample database: region americas
# Servers and etcd are started by PID and stopped by it.
S1_PID= S2_PID=

cleanup() {
	local p
	for p in $S1_PID $S2_PID $ETCD_PID; do
		kill -CONT "$p" 2>/dev/null
		kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	lib_cleanup
}
trap cleanup EXIT

# start N — geovipd number N on its own port, socket and log.
start_n() {
	local n=$1
	pick_port
	eval "P$n=$PORT"
	SERVER_LOG="$TEST_TMP/server$n.log"
	write_geo_config "$TEST_TMP/g$n.yaml" "control: $TEST_TMP/ctl$n.sock" \
		"fleet:" "  etcd: [http://127.0.0.1:1, $ETCD_URL]" "  prefix: $PREFIX"
	start_server "$TEST_TMP/g$n.yaml"
	eval "S${n}_PID=$SERVER_PID"
	SERVER_PID=
}
# answer N — the A records server N gives $CLIENT for www.
answer() {
	local port
	eval "port=\$P$1"
	dig +short +tries=2 +time=1 -b "$CLIENT" -p "$port" @127.0.0.1 "www.$ZONE" A |
		sort | tr '\n' ' ' | sed 's/ $//'
}
log_of() { cat "$TEST_TMP/server$1.log"; }
gen() { timeout 20 "$GEOVIPCTL" -s "$TEST_TMP/ctl$1.sock" status | sed -n 's/^generation //p'; }
fleetctl() { timeout 30 "$GEOVIPCTL" -c "$TEST_TMP/g1.yaml" -t 5 --fleet "$@"; }
now_ms() { date +%s%3N; }
# applied_ms N PATTERN — when server N logged its first line matching
# PATTERN (the log's own millisecond timestamp), in ms since the epoch
applied_ms() {
	local ts
	ts=$(grep -E -m1 -- "$2" "$TEST_TMP/server$1.log" | cut -d' ' -f1)
	[ -n "$ts" ] && date -d "$ts" +%s%3N
}
# until_both WANT SECONDS — waits until both servers answer WANT; prints
# the milliseconds it took, or "timeout".
until_both() {
	local start end
	start=$(now_ms)
	end=$((start + $2 * 1000))
	while [ "$(now_ms)" -lt "$end" ]; do
		if [ "$(answer 1)" = "$1" ] && [ "$(answer 2)" = "$1" ]; then
			echo $(($(now_ms) - start))
			return 0
		fi
		sleep 0.05
	done
	echo timeout
}

write_zone 2024010101
start_etcd
start_n 1
start_n 2
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	wait_log "fleet: read $PREFIX/ from etcd $ETCD_URL at revision" 1 15 ||
		fail "server $n: no 'fleet: read' line"
done
check_grep "server 1 tried the dead URL first and moved on" \
	"fleet: etcd http://127.0.0.1:1: cannot connect" "$(log_of 1)"
check_grep "status shows the fleet watched" "^fleet $PREFIX/ etcd $ETCD_URL watching at revision [0-9]+, 0 key\(s\)$" \
	"$(timeout 20 "$GEOVIPCTL" -s "$TEST_TMP/ctl1.sock" status)"
check "before: server 1 answers americas" $AMERICAS "$(answer 1)"
check "before: server 2 answers americas" $AMERICAS "$(answer 2)"

# --- bad input: a clear error, nothing written
bad() {
	local what=$1 want=$2 rc out
	shift 2
	out=$(fleetctl "$@" 2>&1); rc=$?
	check "--fleet $what: exit status" 1 "$rc"
	check_grep "--fleet $what: error" "$want" "$out"
}
bad "unknown region" "unknown region 'mars'" shed mars --to apac --percent 10 --for 1m --reason x
bad "percent 150" "--percent: write a number above 0 and at most 100" \
	shed americas --to apac --percent 150 --for 1m --reason x
bad "negative duration" "--for: write a whole number" shed americas --to apac --percent 10 --for -5s --reason x
bad "shed to itself" "cannot shed to itself" shed americas --to americas --percent 10 --for 1m --reason x
out=$(fleetctl shed americas --to apac 2>&1); rc=$?
check "--fleet shed without options: usage, exit 2" 2 "$rc"
bad "undo of nothing" "no fleet override for region 'americas'" undo americas
check "after bad input: no key under the prefix" "0 key(s) under $PREFIX/ in etcd $ETCD_URL" \
	"$(fleetctl overrides | tail -1)"

# --- one shed, both servers within 2 s
T0=$(now_ms)
out=$(fleetctl shed americas --to apac --percent 100 --for 10m --reason "fleet test" --who tester)
T1=$(now_ms)
check_grep "--fleet shed: written" "^wrote to etcd $ETCD_URL: $PREFIX/override/americas shed americas to apac 100.00% until 20.*by tester" "$out"
# The 2 s bound is checked below on the servers' own log times; the
# answers seen through dig get 5 s, as each dig process takes 0.2-0.5 s
# on a loaded 2-core machine. Under valgrind (GEOVIPD_WRAPPER) both ~10x.
ms=$(until_both $APAC $((5 * WAIT_SCALE)))
if [ "$ms" != timeout ]; then ok "both servers answer apac $ms ms after geovipctl returned (dig included)"
else fail "both servers did not move within $((5 * WAIT_SCALE)) s (server 1 '$(answer 1)', server 2 '$(answer 2)')"; fi
# the generation with the override, by each server's log, from the moment
# geovipctl started (its own run, about $((T1 - T0)) ms here, included)
for n in 1 2; do
	t=$(applied_ms $n "audit: fleet added #[0-9]+ shed americas")
	if [ -n "$t" ] && [ $((t - T0)) -le $((2000 * WAIT_SCALE)) ]; then
		ok "server $n applied the shed $((t - T0)) ms after geovipctl started"
	else
		fail "server $n: shed applied ${t:+$((t - T0)) ms }after geovipctl started (want ≤ 2 s)"
	fi
done
out=$(fleetctl shed americas --to emea --percent 10 --for 1m --reason again 2>&1); rc=$?
check "--fleet shed twice: refused" 1 "$rc"
check_grep "--fleet shed twice: says so" "already has a fleet override" "$out"
check_grep "--fleet overrides lists it" "^$PREFIX/override/americas shed americas to apac 100.00% until .* by tester reason \"fleet test\"" \
	"$(fleetctl overrides)"
st=$(timeout 20 "$GEOVIPCTL" -s "$TEST_TMP/ctl2.sock" overrides)
check_grep "server 2 lists the fleet override with its key" \
	"by tester via etcd key $PREFIX/override/americas" "$st"
check_grep "audit line on server 2" "audit: fleet added #[0-9]+ shed americas → apac 100.00% until .* set by tester via etcd key" "$(log_of 2)"
id=$(printf '%s\n' "$st" | sed -n 's/^override #\([0-9]*\) .*/\1/p' | head -1)
out=$(timeout 20 "$GEOVIPCTL" -s "$TEST_TMP/ctl2.sock" undo "$id" 2>&1); rc=$?
check "local undo of a fleet override: refused" 1 "$rc"
check_grep "local undo of a fleet override: points to --fleet undo" "comes from etcd key .*geovipctl --fleet undo americas" "$out"

# --- malformed and stale values: logged with the key, nothing changes
G1=$(gen 1)
G2=$(gen 2)
etcdctl_ put "$PREFIX/override/garbage" '{"kind":"shed","region":' >/dev/null
etcdctl_ put "$PREFIX/override/p150" '{"kind":"shed","region":"emea","to":"apac","percent":150,"expires":"2099-01-01T00:00:00Z","reason":"x","who":"y"}' >/dev/null
etcdctl_ put "$PREFIX/override/old" '{"kind":"shed","region":"emea","to":"apac","percent":10,"expires":"2020-01-01T00:00:00Z","reason":"x","who":"y"}' >/dev/null
# garbage over the valid override: the key keeps it
etcdctl_ put "$PREFIX/override/americas" '{"kind":"shed","region":"americas","to":"apac","percent":"x"}' >/dev/null
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	wait_log "fleet: $PREFIX/override/americas: .*the key keeps its last valid value" 1 5 ||
		fail "server $n: no 'keeps its last valid value' line"
	l=$(log_of $n)
	check_grep "server $n: malformed JSON logged with its key" \
		"fleet: $PREFIX/override/garbage: not a JSON object \(not valid JSON at byte [0-9]+\).*ignored" "$l"
	check_grep "server $n: percent 150 logged with its key" \
		"fleet: $PREFIX/override/p150: 'percent' must be a number above 0 and at most 100" "$l"
	check_grep "server $n: stale value logged with its key" \
		"fleet: $PREFIX/override/old: stale: expired at 2020-01-01T00:00:00Z; ignored" "$l"
	check_grep "server $n: a bad value over a valid one: logged, the valid one kept" \
		"fleet: $PREFIX/override/americas: 'percent' must be a number .*; ignored: the key keeps its last valid value \(revision [0-9]+\)" "$l"
done
check "bad values: server 1 generation unchanged" "$G1" "$(gen 1)"
check "bad values: server 2 generation unchanged" "$G2" "$(gen 2)"
check "bad values: server 1 still sheds americas" $APAC "$(answer 1)"
check "bad values: server 2 still sheds americas" $APAC "$(answer 2)"
check_grep "--fleet overrides flags the malformed value" "^$PREFIX/override/garbage INVALID: .*not a JSON object" "$(fleetctl overrides)"
etcdctl_ del --prefix "$PREFIX/override/garbage" >/dev/null
etcdctl_ del "$PREFIX/override/p150" >/dev/null
etcdctl_ del "$PREFIX/override/old" >/dev/null

# --- --fleet undo: both back within 2 s
T0=$(now_ms)
out=$(fleetctl undo americas)
check_grep "--fleet undo" "^deleted $PREFIX/override/americas in etcd $ETCD_URL" "$out"
ms=$(until_both $AMERICAS $((5 * WAIT_SCALE)))
if [ "$ms" != timeout ]; then ok "both servers answer americas again $ms ms after --fleet undo returned (dig included)"
else fail "the undo did not reach both servers within $((5 * WAIT_SCALE)) s"; fi
for n in 1 2; do
	t=$(applied_ms $n "audit: fleet removed #[0-9]+ shed americas")
	if [ -n "$t" ] && [ $((t - T0)) -le $((2000 * WAIT_SCALE)) ]; then
		ok "server $n applied the undo $((t - T0)) ms after geovipctl started"
	else
		fail "server $n: undo applied ${t:+$((t - T0)) ms }after geovipctl started (want ≤ 2 s)"
	fi
done

# --- etcd killed: both keep a short override until it expires, then drop it
out=$(fleetctl shed americas --to apac --percent 100 --for 20s --reason "short" --who tester)
until=$(printf '%s\n' "$out" | sed -n 's/.* until \([0-9T:Z-]*\) by .*/\1/p')
EXPIRES=$(date -d "$until" +%s) || fail "no expiry time in '$out'"
ms=$(until_both $APAC $((5 * WAIT_SCALE)))
[ "$ms" != timeout ] || fail "the short shed did not reach both servers"
stop_etcd
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	wait_log "fleet: etcd $ETCD_URL: the connection was lost; keeping the last known state \(1 key" 1 5 ||
		fail "server $n: no 'connection was lost' line"
done
check_grep "etcd down: status says so" "^fleet $PREFIX/ etcd (http://127.0.0.1:1|$ETCD_URL) unreachable since 20[-0-9T:]+Z \(attempt [0-9]+\); keeping revision [0-9]+, 1 key\(s\)$" \
	"$(timeout 20 "$GEOVIPCTL" -s "$TEST_TMP/ctl2.sock" status)"
check "etcd down: server 1 still sheds" $APAC "$(answer 1)"
check "etcd down: server 2 still sheds" $APAC "$(answer 2)"
# 4 s before the expiry: room for two digs on a loaded machine
while [ "$(date +%s)" -lt $((EXPIRES - 4)) ]; do sleep 0.2; done
if [ "$(date +%s)" -lt $((EXPIRES - 1)) ]; then
	check "etcd down, shortly before expiry: server 1 still sheds" $APAC "$(answer 1)"
	check "etcd down, shortly before expiry: server 2 still sheds" $APAC "$(answer 2)"
else
	fail "the test reached the pre-expiry check too late to make it"
fi
ms=$(until_both $AMERICAS 10) # from 4 s before the expiry; room for load
if [ "$ms" != timeout ]; then ok "etcd down: both servers dropped the override at its expiry"
else fail "override not dropped at expiry (server 1 '$(answer 1)', server 2 '$(answer 2)')"; fi
check_grep "expiry audited on server 1" "audit: expired #[0-9]+ shed americas → apac .*via etcd key $PREFIX/override/americas, reason \"short\"" "$(log_of 1)"
if [ "$(date +%s)" -lt "$EXPIRES" ]; then fail "the override was dropped before its expiry"; fi

# --- etcd back: a change written while server 2 is stopped (not
# connected) reaches it by the resync; server 1 resyncs too
kill -STOP "$S2_PID"
start_etcd
out=$(fleetctl drain emea --to apac --for 10m --reason "back" --who tester)
check_grep "--fleet drain: written" "drain emea to apac 100.00%" "$out"
kill -CONT "$S2_PID"
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	# the backoff tops out at 5 s; 15 s is for a loaded machine
	wait_log "fleet: resynced $PREFIX/ from etcd $ETCD_URL" 1 15 ||
		fail "server $n: no 'resynced' line"
done
check_grep "server 2's resync found the drain" "fleet: resynced $PREFIX/ from etcd $ETCD_URL at revision [0-9]+: 1 override" "$(log_of 2)"
EMEA_CLIENT=127.0.1.1 # DE in the sample database: region emea
# dig from an EMEA client: drained to apac on both
for n in 1 2; do
	eval "port=\$P$n"
	got=""
	for i in $(seq 1 50); do
		got=$(dig +short +tries=2 +time=1 -b $EMEA_CLIENT -p "$port" @127.0.0.1 "www.$ZONE" A | sort | tr '\n' ' ' | sed 's/ $//')
		[ "$got" = $APAC ] && break
		sleep 0.1
	done
	check "after the resync: server $n drains emea to apac" $APAC "$got"
done

# --- --fleet undo of the drain
out=$(fleetctl undo emea)
check_grep "--fleet undo emea" "^deleted $PREFIX/override/emea in etcd $ETCD_URL" "$out"
for n in 1 2; do
	eval "port=\$P$n"
	got=""
	for i in $(seq 1 40); do
		got=$(dig +short +tries=2 +time=1 -b $EMEA_CLIENT -p "$port" @127.0.0.1 "www.$ZONE" A | sort | tr '\n' ' ' | sed 's/ $//')
		[ "$got" = "$EMEA" ] && break
		sleep 0.05
	done
	check "after --fleet undo: server $n answers emea" "$EMEA" "$got"
	check_grep "server $n: the drain's removal audited" "audit: fleet removed #[0-9]+ drain emea" "$(log_of $n)"
done
# --- 300 keys for one region: the first in key order applies, keys past
# 256 are logged and left, the servers keep serving
python3 - "$ETCD_URL" "$PREFIX" <<'PYEOF'
import base64, json, sys, urllib.request
url, prefix = sys.argv[1], sys.argv[2]
value = json.dumps({"kind": "drain", "region": "lab", "to": "apac",
                    "expires": "2099-01-01T00:00:00Z", "reason": "bulk", "who": "t"})
for i in range(300):
    body = json.dumps({"key": base64.b64encode(("%s/bulk/%03d" % (prefix, i)).encode()).decode(),
                       "value": base64.b64encode(value.encode()).decode()}).encode()
    urllib.request.urlopen(urllib.request.Request(url + "/v3/kv/put", body), timeout=10).read()
PYEOF
LAB_CLIENT=127.0.7.1 # AQ (Antarctica) in the sample database: region lab
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	wait_log "fleet: $PREFIX/bulk/299: more than 256 keys under $PREFIX/; ignored" 1 20 ||
		fail "server $n: no 'more than 256 keys' line"
	check_grep "server $n: two keys for one region named" \
		"fleet: $PREFIX/bulk/001 and $PREFIX/bulk/000 both override region 'lab': $PREFIX/bulk/000 applies" "$(log_of $n)"
	check "server $n: one override for lab" 1 "$(grep -c "audit: fleet added #[0-9]* drain lab" "$TEST_TMP/server$n.log")"
	eval "port=\$P$n"
	check "server $n: lab drained to apac" $APAC \
		"$(dig +short +tries=2 +time=1 -b $LAB_CLIENT -p "$port" @127.0.0.1 "www.$ZONE" A)"
done
etcdctl_ del --prefix "$PREFIX/bulk/" >/dev/null

# SIGTERM with etcd still watched: a clean exit, 0 (under valgrind or
# ASan, nothing leaked and no bad access)
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	eval "SERVER_PID=\$S${n}_PID"
	stop_server
	eval "S${n}_PID="
	check "server $n: SIGTERM while watching etcd, exit status" 0 "$SERVER_STATUS"
	check_nogrep "server $n: no crash, no sanitizer report" "runtime error|AddressSanitizer|LeakSanitizer" "$(log_of $n)"
done
SERVER_LOG="$TEST_TMP/server1.log"
finish
