#!/bin/bash
# tests/integration/fleet_health.sh — region health through etcd: a real
# etcd on loopback and two geovipd instances watching one prefix (all
# started by the test on free ports, stopped by PID). `geovipctl --fleet
# health REGION down` changes both within 2 s (measured on their logs);
# both spread the region's ECS clients by capacity, equal to each other and
# to python's SipHash + weighted rendezvous; up restores; local and fleet
# health combine (down when either says down) and status/lookup name the
# source; hysteresis (reports: 3) counts each etcd revision once, a
# hold-down of 5 s holds one report back that long; with etcd
# killed both keep the state, a restart of one keeps it from the state
# file, and etcd back resyncs without counting reports again; deleting the
# key ends the fleet's say at once; `--fleet drain` without --to spreads by
# capacity; `--fleet ... --dry-run` prints the local dry run and writes
# nothing; bad values are logged with their key and change nothing.
. "$(dirname "$0")/lib-extra.sh"
require dig python3
. "$(dirname "$0")/lib-etcd.sh"
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"

PREFIX=/geovip/health$$
W=www.$ZONE
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

# fleet_config N REPORTS [HOLD] — server N's config: capacities americas
# 2, emea 3, apac 5, lab 1; health hysteresis of REPORTS reports and a
# hold-down of HOLD (default 0s; both 0: at once).
fleet_config() {
	local port
	eval "port=\$P$1"
	cat > "$TEST_TMP/g$1.yaml" <<EOF
listen:
  - 127.0.0.1:$port
geoip: $GEO_DB
workers: 2
regions:
  americas: {continents: [NA, SA], vips: [192.0.2.10], capacity: 2}
  emea: {continents: [EU, AF], vips: [198.51.100.10], capacity: 3}
  apac: {continents: [AS, OC], vips: [203.0.113.10], capacity: 5}
  lab: {continents: [AN], vips: [192.0.2.77]}
default_region: americas
shed_key: "$SHED_KEY"
control: $TEST_TMP/ctl$1.sock
health: {reports: $2, hold_down: ${3:-0s}}
fleet:
  etcd: [$ETCD_URL]
  prefix: $PREFIX
zones:
  - origin: $ZONE.
    file: $ZONE_FILE
    ttl: 30
    regional: ["@", www]
EOF
}
start_n() {
	SERVER_LOG="$TEST_TMP/server$1.log"
	eval "PORT=\$P$1" # start_server asks this port for the token
	start_server "$TEST_TMP/g$1.yaml"
	eval "S${1}_PID=$SERVER_PID"
	SERVER_PID=
	wait_log "fleet: (read|resynced) $PREFIX/ from etcd" 1 15 ||
		fail "server $1: no 'fleet: read' line"
}
ctl() { local n=$1; shift; timeout 30 "$GEOVIPCTL" -s "$TEST_TMP/ctl$n.sock" "$@"; }
fleetctl() { timeout 30 "$GEOVIPCTL" -c "$TEST_TMP/g1.yaml" -t 5 --fleet "$@"; }
log_of() { cat "$TEST_TMP/server$1.log"; }
gen() { ctl "$1" status | sed -n 's/^generation //p'; }
now_ms() { date +%s%3N; }
# applied_ms N PATTERN — server N's log time of its first line matching
# PATTERN after line FROM_LINE_N (ms since the epoch)
applied_ms() {
	local ts from
	eval "from=\${FROM$1:-0}"
	ts=$(tail -n +$((from + 1)) "$TEST_TMP/server$1.log" | grep -E -m1 -- "$2" | cut -d' ' -f1)
	[ -n "$ts" ] && date -d "$ts" +%s%3N
}
mark() { FROM1=$(wc -l < "$TEST_TMP/server1.log"); FROM2=$(wc -l < "$TEST_TMP/server2.log"); }
# wait_both PATTERN SECONDS — both logs hold PATTERN after the mark
wait_both() {
	local n i
	for n in 1 2; do
		for i in $(seq 1 $(($2 * 20))); do
			[ -n "$(applied_ms $n "$1")" ] && break
			sleep 0.05
		done
		[ -n "$(applied_ms $n "$1")" ] || return 1
	done
}
audits() { grep -c "audit: fleet reported" "$TEST_TMP/server$1.log"; }

# ecs.py RULE FIRST LAST — ECS clients 81.I.0.0/24 (emea in the sample
# database) asked of both servers; each answer compared with the other
# server's and with python's prediction. RULE "stay:R" or
# "spread:NAME:CAP,..." (the candidates in config order), or
# "shed:BP:NAME:CAP,..." (emea's clients with h mod 10000 < BP spread). Prints
# "mismatch=N differ=N" and the count per region of server 1.
cat > "$TEST_TMP/ecs.py" <<'PYEOF'
import ipaddress, random, sys
sys.path.insert(0, sys.argv[1])
from dnsclient import ECS_CODE, Response, build_query, ecs_data, exchange, shed_hash, spread
ports, key, name = [int(p) for p in sys.argv[2].split(",")], bytes.fromhex(sys.argv[3]), sys.argv[4]
rule, first, last = sys.argv[5], int(sys.argv[6]), int(sys.argv[7])
vip = {"192.0.2.10": "americas", "198.51.100.10": "emea",
       "203.0.113.10": "apac", "192.0.2.77": "lab"}
def ask(port, net):
    for _ in range(3):
        data = exchange("127.0.0.1", port, build_query(name, "A", random.randint(0, 65535),
                        options=((ECS_CODE, ecs_data(net)),)), timeout=1.0)
        if data is not None:
            return vip.get(Response(data).addresses(), "?")
    return "timeout"
mismatch, differ, dist = 0, 0, {}
for i in range(first, last + 1):
    net = "81.%d.0.0/24" % i
    got = [ask(p, net) for p in ports]
    h = shed_hash(key, ipaddress.ip_network(net))
    if rule.startswith("stay:"):
        want = rule[5:]
    elif rule.startswith("shed:"):
        # shed:BP:R1:C1,R2:C2 — shed (h mod 10000 < BP) by capacity
        _, bp, cands = rule.split(":", 2)
        cands = [(c.split(":")[0], int(c.split(":")[1])) for c in cands.split(",")]
        want = spread(key, h, cands) if h % 10000 < int(bp) else "emea"
    else:
        cands = [(c.split(":")[0], int(c.split(":")[1])) for c in rule.split(":", 1)[1].split(",")]
        want = spread(key, shed_hash(key, ipaddress.ip_network(net)), cands)
    if len(set(got)) > 1:
        differ += 1
        print("# %s: the servers differ: %s" % (net, got))
    if any(g != want for g in got):
        mismatch += 1
        print("# %s: got %s, python says %s" % (net, got, want))
    dist[got[0]] = dist.get(got[0], 0) + 1
print("mismatch=%d differ=%d %s" % (mismatch, differ, " ".join("%s=%d" % kv for kv in sorted(dist.items()))))
PYEOF
ecs() { python3 "$TEST_TMP/ecs.py" "$top_srcdir/tests/integration" "$P1,$P2" "$SHED_KEY" $W "$@"; }
field() { printf '%s\n' "$1" | sed -n "s/.*$2=\\([0-9]*\\).*/\\1/p"; }
# check_ecs WHAT RULE FIRST LAST — every client as python says, on both
check_ecs() {
	local out
	out=$(ecs "$2" "$3" "$4")
	printf '%s\n' "$out" | grep '^#' | head -5
	echo "# $1: $(printf '%s\n' "$out" | tail -1)"
	check "$1: both servers give every client the same region" 0 "$(field "$(printf '%s\n' "$out" | tail -1)" differ)"
	check "$1: every client's region is python's" 0 "$(field "$(printf '%s\n' "$out" | tail -1)" mismatch)"
}
SPREAD="spread:americas:2,apac:5,lab:1" # emea's clients, by capacity

write_zone 2024010101
pick_port; P1=$PORT
P2=$P1
while [ "$P2" = "$P1" ]; do pick_port; P2=$PORT; done
start_etcd
fleet_config 1 0
fleet_config 2 0
start_n 1
start_n 2
check_ecs "before" stay:emea 0 39

# --- bad values: logged with their key, nothing changes
G1=$(gen 1); G2=$(gen 2)
mark
etcdctl_ put "$PREFIX/health/mars" '{"kind":"health","region":"mars","state":"down","who":"t"}' >/dev/null
etcdctl_ put "$PREFIX/health/side" '{"kind":"health","region":"emea","state":"sideways","who":"t"}' >/dev/null
etcdctl_ put "$PREFIX/health/junk" '{"kind":"health","region":' >/dev/null
etcdctl_ put "$PREFIX/health/old" '{"kind":"health","region":"emea","state":"down","expires":"2020-01-01T00:00:00Z","who":"t"}' >/dev/null
wait_both "fleet: $PREFIX/health/old: stale" 10 || fail "the bad values were not all read"
for n in 1 2; do
	l=$(tail -n +$((FROM1 + 1)) "$TEST_TMP/server$n.log")
	[ "$n" = 2 ] && l=$(tail -n +$((FROM2 + 1)) "$TEST_TMP/server$n.log")
	check_grep "server $n: unknown region logged with its key" \
		"fleet: $PREFIX/health/mars: region 'mars' is not in this server's configuration; ignored: this key applies nothing" "$l"
	check_grep "server $n: bad state logged with its key" \
		"fleet: $PREFIX/health/side: 'state' must be up or down, not 'sideways'; ignored" "$l"
	check_grep "server $n: malformed JSON logged with its key" \
		"fleet: $PREFIX/health/junk: not a JSON object .*; ignored" "$l"
	check_grep "server $n: an expired value logged with its key" \
		"fleet: $PREFIX/health/old: stale: expired at 2020-01-01T00:00:00Z; ignored" "$l"
	check_nogrep "server $n: no report counted" "audit:" "$l"
done
check "bad values: server 1 generation unchanged" "$G1" "$(gen 1)"
check "bad values: server 2 generation unchanged" "$G2" "$(gen 2)"
etcdctl_ del --prefix "$PREFIX/health/" >/dev/null

# --- bad input to geovipctl --fleet health: an error, nothing written
out=$(fleetctl health mars down 2>&1); rc=$?
check "--fleet health unknown region: exit 1" 1 "$rc"
check_grep "--fleet health unknown region: says so" "unknown region 'mars'" "$out"
out=$(fleetctl health emea sideways 2>&1); rc=$?
check "--fleet health bad state: exit 1" 1 "$rc"
check_grep "--fleet health bad state: says so" "health: 'sideways' is not down or up" "$out"
out=$(fleetctl health emea down --for -5s 2>&1); rc=$?
check "--fleet health bad duration: exit 1" 1 "$rc"
out=$(fleetctl health emea 2>&1); rc=$?
check "--fleet health without a state: usage, exit 2" 2 "$rc"
check "after bad input: nothing under the prefix" "" "$(etcdctl_ get --prefix "$PREFIX/" --keys-only)"

# --- --fleet --dry-run: the local daemon's numbers, nothing in etcd
out_local=$(ctl 1 health emea down --dry-run)
out=$(fleetctl health emea down --reason "AMS fire" --dry-run); rc=$?
printf '%s\n' "$out" | sed 's/^/# fleet dry run: /'
check "--fleet health --dry-run: exit 0" 0 "$rc"
check_grep "--fleet health --dry-run: says it is a fleet change" "^dry run \\(nothing changed\\): fleet health emea down \\(once in effect\\)$" "$out"
for f in networks ipv4 ipv6; do
	check "--fleet health --dry-run: $f as the local dry run" \
		"$(printf '%s\n' "$out_local" | grep "^$f ")" "$(printf '%s\n' "$out" | grep "^$f ")"
done
out=$(fleetctl drain emea --for 10m --reason x --who tester --dry-run)
check_grep "--fleet drain --dry-run: by capacity" "^dry run \\(nothing changed\\): fleet drain emea to \\(up regions by capacity\\) 100.00%$" "$out"
check "--fleet drain --dry-run moves what health down does" \
	"$(printf '%s\n' "$out_local" | grep "^ipv4 ")" "$(printf '%s\n' "$out" | grep "^ipv4 ")"
out=$(timeout 30 "$GEOVIPCTL" -c "$TEST_TMP/g1.yaml" -s "$TEST_TMP/none.sock" --fleet health emea down --dry-run 2>&1); rc=$?
check "--fleet --dry-run, no socket: exit 3" 3 "$rc"
check_grep "--fleet --dry-run, no socket: says so" "cannot be reached; nothing was written to etcd" "$out"
check "after the dry runs: nothing under the prefix" "" "$(etcdctl_ get --prefix "$PREFIX/" --keys-only)"
check "after the dry runs: server 1 generation unchanged" "$G1" "$(gen 1)"

# --- fleet health down: both servers within 2 s, spread by capacity
mark
T0=$(now_ms)
out=$(fleetctl health emea down --reason "AMS fire" --who tester)
check_grep "--fleet health down: written" "^wrote to etcd $ETCD_URL at revision [0-9]+: $PREFIX/health/emea health emea down by tester reason \"AMS fire\"$" "$out"
wait_both "audit: fleet reported emea down via etcd key $PREFIX/health/emea \\(revision [0-9]+\\) by tester: in effect" 10 ||
	fail "the fleet health did not reach both servers"
for n in 1 2; do
	t=$(applied_ms $n "runtime overrides: generation [0-9]+ published")
	if [ -n "$t" ] && [ $((t - T0)) -le $((2000 * WAIT_SCALE)) ]; then
		ok "server $n published emea down $((t - T0)) ms after geovipctl started"
	else
		fail "server $n: emea down published ${t:+$((t - T0)) ms }after geovipctl started (want ≤ 2 s)"
	fi
done
check_ecs "emea down by the fleet" "$SPREAD" 0 199
st=$(ctl 1 status)
check_grep "status: emea down, held by the fleet" "^region emea vips 198.51.100.10 capacity 3 down \\(health: fleet\\)$" "$st"
check_grep "status: the fleet health line" "^fleet health emea down since 20.* by tester via etcd key $PREFIX/health/emea revision [0-9]+ reason \"AMS fire\"$" "$st"
check_grep "lookup names the source" "^health source +emea down by the fleet: etcd key $PREFIX/health/emea revision [0-9]+, set by tester$" "$(ctl 2 lookup 81.1.0.0/24)"
check_grep "audit line on server 2" "audit: health emea down since 20.*, fleet: set by tester via etcd key $PREFIX/health/emea \\(revision [0-9]+\\), reason \"AMS fire\": in effect" "$(log_of 2)"

# --- local and fleet together: down when either says down
out=$(ctl 1 health emea up --reason "local view")
check_grep "local up while the fleet says down: already so" "^health emea up: already so$" "$out"
check_grep "local up while the fleet says down: a note names the key" "^note: the fleet still holds emea down \\(etcd key $PREFIX/health/emea, set by tester\\): geovipctl --fleet health emea up$" "$out"
ctl 1 health emea down --reason "local too" >/dev/null
check_grep "status: held by both" "^region emea .* down \\(health: local and fleet\\)$" "$(ctl 1 status)"

# --- fleet up: both restored within 2 s (the local report still holds
# server 1's emea down: taken back first)
ctl 1 health emea up --reason "local fine" >/dev/null
mark
T0=$(now_ms)
fleetctl health emea up --reason "fire out" --who tester >/dev/null
wait_both "audit: fleet reported emea up via etcd key .*: in effect" 10 || fail "fleet up did not reach both servers"
for n in 1 2; do
	t=$(applied_ms $n "runtime overrides: generation [0-9]+ published")
	if [ -n "$t" ] && [ $((t - T0)) -le $((2000 * WAIT_SCALE)) ]; then
		ok "server $n published emea up $((t - T0)) ms after geovipctl started"
	else
		fail "server $n: emea up published ${t:+$((t - T0)) ms }after geovipctl started (want ≤ 2 s)"
	fi
done
check_ecs "emea up again" stay:emea 0 39
check_nogrep "status: emea no longer down" "^region emea .*down" "$(ctl 2 status)"

# --- hysteresis: reports: 3, each etcd revision one report
for n in 1 2; do
	fleet_config $n 3
	check_grep "server $n: reload with reports: 3" "^reloaded: generation" "$(ctl $n reload)"
done
A1=$(audits 1); A2=$(audits 2)
mark
fleetctl health emea down --reason "flaky" --who feed >/dev/null
wait_both "audit: fleet reported emea down .*: pending \\(hysteresis\\)" 10 || fail "report 1 not seen"
check_grep "report 1 of 3: pending on server 2" "^fleet health emea up since 20.* pending down \\(1 report\\(s\\) since 20.*\\) by feed via etcd key $PREFIX/health/emea revision [0-9]+ reason \"flaky\"$" "$(ctl 2 status)"
fleetctl health emea down --reason "flaky" --who feed >/dev/null
wait_both "pending down: 2 report" 10 || fail "report 2 not seen"
check_ecs "2 reports of 3: still emea" stay:emea 0 19
mark
fleetctl health emea down --reason "flaky" --who feed >/dev/null
wait_both "audit: fleet reported emea down .*: in effect" 10 || fail "report 3 did not take effect"
check "three puts, three reports on server 1" $((A1 + 3)) "$(audits 1)"
check "three puts, three reports on server 2" $((A2 + 3)) "$(audits 2)"
check_ecs "3 reports of 3: emea spread" "$SPREAD" 0 59

# --- etcd killed: both keep the state; server 2 restarted keeps it from
# its state file; etcd back: a resync, no report counted again
stop_etcd
for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	wait_log "fleet: etcd $ETCD_URL: the connection was lost; keeping the last known state" 1 10 ||
		fail "server $n: no 'connection was lost' line"
done
check_ecs "etcd down: both keep emea down" "$SPREAD" 0 39
SERVER_LOG="$TEST_TMP/server2.log"; SERVER_PID=$S2_PID
stop_server TERM
S2_PID=
check "server 2: SIGTERM exit status" 0 "$SERVER_STATUS"
SERVER_LOG="$TEST_TMP/server2.log"
PORT=$P2
start_server "$TEST_TMP/g2.yaml"
S2_PID=$SERVER_PID; SERVER_PID=
check_grep "server 2 restarted: fleet health restored from the state file" "restored health emea down since 20.*fleet: set by feed via etcd key $PREFIX/health/emea" "$(log_of 2)"
check_ecs "etcd down, server 2 restarted: both keep emea down" "$SPREAD" 0 39
A1=$(audits 1); A2=$(audits 2)
mark
start_etcd
wait_both "fleet: (read|resynced) $PREFIX/ from etcd $ETCD_URL at revision [0-9]+: 0 override\\(s\\), 1 health value\\(s\\)" 20 ||
	fail "no resync on both servers"
sleep 0.5
check "resync: no report counted again on server 1" "$A1" "$(audits 1)"
check "resync: no report counted again on server 2" "$A2" "$(audits 2)"
check_ecs "after the resync: emea still down" "$SPREAD" 0 39

# --- deleting the key ends the fleet's say at once (no hysteresis)
mark
etcdctl_ del "$PREFIX/health/emea" >/dev/null
wait_both "audit: fleet removed health emea down .*\\(its key was deleted or expired\\)" 10 ||
	fail "the deletion did not reach both servers"
check_ecs "key deleted: emea back" stay:emea 0 39

# --- hold-down: one report, in effect on both once it has held 5 s (5, not
# less: the pending check below must run before it on a loaded machine)
fleet_config 1 0 5s; fleet_config 2 0 5s
for n in 1 2; do ctl $n reload >/dev/null; done
mark
fleetctl health emea down --reason "held" --who tester >/dev/null
wait_both "audit: fleet reported emea down .*: pending \\(hysteresis\\)" 10 || fail "hold-down: the report was not pending"
check_ecs "hold-down pending: still emea" stay:emea 0 9
wait_both "audit: health emea down since .*fleet: set by tester.*: in effect" 10 || fail "hold-down: not in effect on both"
for n in 1 2; do
	t0=$(applied_ms $n "audit: fleet reported emea down")
	t1=$(applied_ms $n "audit: health emea down since .*: in effect")
	if [ -n "$t0" ] && [ -n "$t1" ] && [ $((t1 - t0)) -ge 5000 ]; then
		ok "server $n: in effect $((t1 - t0)) ms after the report (hold-down 5 s)"
	else
		fail "server $n: hold-down not respected (${t0:-?} → ${t1:-?})"
	fi
done
check_ecs "hold-down passed: emea spread" "$SPREAD" 0 39
etcdctl_ del "$PREFIX/health/emea" >/dev/null
wait_both "audit: fleet removed health emea" 10 || fail "hold-down: the deletion did not reach both"

# --- an expiring fleet health value (--for): down, then back by itself
fleet_config 1 0; fleet_config 2 0
for n in 1 2; do ctl $n reload >/dev/null; done
mark
out=$(fleetctl health emea down --for 6s --reason "short" --who tester)
check_grep "--fleet health --for: until" "health emea down until 20[-0-9T:]+Z by tester" "$out"
wait_both "audit: fleet reported emea down .*: in effect" 10 || fail "the short health value was not applied"
wait_both "audit: fleet health expired emea down" 15 || fail "the short health value did not expire on both"
check_ecs "fleet health expired: emea back" stay:emea 0 19
etcdctl_ del "$PREFIX/health/emea" >/dev/null

# --- fleet drain without --to: spread by capacity like a down region
mark
out=$(fleetctl drain emea --for 10m --reason "spread" --who tester)
check_grep "--fleet drain without --to: written" "$PREFIX/override/emea drain emea to \\(up regions by capacity\\) 100.00% until .* by tester" "$out"
check_grep "--fleet drain without --to: the value has no \"to\"" '^\{"kind":"drain","region":"emea","expires":' "$(etcdctl_ get --print-value-only "$PREFIX/override/emea")"
wait_both "audit: fleet added #[0-9]+ drain emea → \\(up regions by capacity\\)" 10 || fail "the drain did not reach both"
check_ecs "fleet drain by capacity" "$SPREAD" 0 199
out=$(fleetctl undo emea --dry-run)
check_grep "--fleet undo --dry-run: the fleet override" "^dry run \\(nothing changed\\): fleet undo emea \\(delete etcd key $PREFIX/override/emea\\)$" "$out"
check_grep "--fleet undo --dry-run: moves what the drain moved" "$(printf '%s\n' "$out_local" | grep '^ipv4 ')" "$out"
check "--fleet undo --dry-run: the key is still there" "$PREFIX/override/emea" "$(etcdctl_ get --prefix "$PREFIX/" --keys-only | grep .)"
fleetctl undo emea >/dev/null
wait_both "audit: fleet removed #[0-9]+ drain emea" 10 || fail "the undo did not reach both"
check_ecs "fleet drain undone" stay:emea 0 19
# a shed without --to: the shed share spread by capacity, the rest stays
mark
out=$(fleetctl shed emea --percent 50 --for 10m --reason "half" --who tester)
check_grep "--fleet shed without --to: written" "shed emea to \\(up regions by capacity\\) 50.00%" "$out"
wait_both "audit: fleet added #[0-9]+ shed emea → \\(up regions by capacity\\) 50.00%" 10 || fail "the shed did not reach both"
check_ecs "fleet shed 50% by capacity" "shed:5000:americas:2,apac:5,lab:1" 0 99
fleetctl undo emea >/dev/null

for n in 1 2; do
	SERVER_LOG="$TEST_TMP/server$n.log"
	eval "SERVER_PID=\$S${n}_PID"
	stop_server
	eval "S${n}_PID="
	check "server $n: SIGTERM, exit status" 0 "$SERVER_STATUS"
	check_nogrep "server $n: no crash, no sanitizer report" "runtime error|AddressSanitizer|LeakSanitizer" "$(log_of $n)"
done
SERVER_LOG="$TEST_TMP/server1.log"
finish
