#!/bin/bash
# tests/integration/health.sh — region health and capacity: `geovipctl
# health` with hysteresis (3 reports or a 5 s hold-down), a down region's
# clients spread by capacity exactly as python's SipHash + weighted
# rendezvous predicts (and over its fallback list when that is up), drain
# without --to spread the same way, every region down answered as if all
# were up, persistence through restart and reload, --dry-run numbers
# against a brute force over geo/sample.txt, and bad input refused with
# nothing changed.
. "$(dirname "$0")/lib-extra.sh"
require dig python3
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"

SOCK="$TEST_TMP/ctl.sock"
W=www.$ZONE
ctl() { timeout 30 "$GEOVIPCTL" -s "$SOCK" "$@"; }
# config order and capacities, as python's spread() takes them
CAPS="americas:2,emea:3,apac:5,lab:1"

pick_port
write_zone 2024010101
cat > "$CONF" <<EOF
listen:
  - 127.0.0.1:$PORT
geoip: $GEO_DB
workers: 2
regions:
  americas: {continents: [NA, SA], vips: [192.0.2.10], capacity: 2}
  emea: {continents: [EU, AF], vips: [198.51.100.10], capacity: 3}
  apac: {continents: [AS, OC], vips: [203.0.113.10], capacity: 5}
  lab: {continents: [AN], vips: [192.0.2.77], fallback: [emea]}
default_region: americas
overrides:
  countries:
    BR: emea
shed_key: "$SHED_KEY"
control: $SOCK
health: {hold_down: 5s, reports: 3}
zones:
  - origin: $ZONE.
    file: $ZONE_FILE
    ttl: 30
    regional: ["@", www]
EOF
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
check_grep "--check accepts capacity, fallback and health" "config OK" "$out"
start_server

# spread.py KIND FIRST LAST RULE — queries clients FIRST..LAST and
# compares each answer with python's prediction. KIND src: packet source
# 127.0.I.1; KIND ecs: ECS 81.I.0.0/24 (emea). RULE "stay:R" or
# "spread:NAME:CAP,..." (the candidates in config order). Prints
# "mismatch=N" and the count per region.
cat > "$TEST_TMP/spread.py" <<'PYEOF'
import ipaddress, random, sys
sys.path.insert(0, sys.argv[1])
from dnsclient import ECS_CODE, Response, build_query, ecs_data, exchange, shed_hash, spread
port, key, name = int(sys.argv[2]), bytes.fromhex(sys.argv[3]), sys.argv[4]
kind, first, last, rule = sys.argv[5], int(sys.argv[6]), int(sys.argv[7]), sys.argv[8]
vip = {"192.0.2.10": "americas", "198.51.100.10": "emea",
       "203.0.113.10": "apac", "192.0.2.77": "lab"}
mismatch, dist = 0, {}
for i in range(first, last + 1):
    if kind == "src":
        net, opts, bind = "127.0.%d.0/24" % i, (), "127.0.%d.1" % i
    else:
        net, bind = "81.%d.0.0/24" % i, None
        opts = ((ECS_CODE, ecs_data(net)),)
    data = None
    for _ in range(3):
        data = exchange("127.0.0.1", port, build_query(name, "A", random.randint(0, 65535),
                        options=opts), timeout=1.0, bind=bind)
        if data is not None:
            break
    got = vip.get(Response(data).addresses(), "?") if data else "timeout"
    if rule.startswith("stay:"):
        want = rule[5:]
    else:
        cands = [(c.split(":")[0], int(c.split(":")[1])) for c in rule.split(":", 1)[1].split(",")]
        want = spread(key, shed_hash(key, ipaddress.ip_network(net)), cands)
    if got != want:
        mismatch += 1
        print("# %s: got %s, python says %s" % (net, got, want))
    dist[got] = dist.get(got, 0) + 1
print("mismatch=%d %s" % (mismatch, " ".join("%s=%d" % kv for kv in sorted(dist.items()))))
PYEOF
spread() { python3 "$TEST_TMP/spread.py" "$top_srcdir/tests/integration" "$PORT" "$SHED_KEY" $W "$@"; }
mismatches() { printf '%s\n' "$1" | sed -n 's/^mismatch=\([0-9]*\).*/\1/p'; }
src_of() { dig @127.0.0.1 -p "$PORT" -b "$1" +short $W A | tr '\n' ' ' | sed 's/ $//'; }
generation() { ctl status | sed -n 's/^generation //p'; }

out=$(spread src 10 49 stay:americas)
check "before: every source client is americas" 0 "$(mismatches "$out")"
GEN0=$(generation)

# --- bad input: a clear error, exit 1 (2 for geovipctl's own checks),
# nothing changed
bad() {
	local what=$1 want=$2 rc_want=$3 out rc
	shift 3
	out=$(ctl "$@" 2>&1); rc=$?
	check "$what: exit $rc_want" "$rc_want" "$rc"
	check_grep "$what: error names the problem" "$want" "$out"
}
cat > "$TEST_TMP/clients" <<EOF
# prefix weight
81.1.0.0/24 100
177.5.0.0/16 50
8.8.8.0/24 30
203.0.113.0/24 20
2a00:1:2::/48 7.5
EOF
printf '81.1.0.0/24 10\nnot-a-prefix 5\n' > "$TEST_TMP/bad-clients"
printf '81.1.0.0/24 -3\n' > "$TEST_TMP/neg-clients"
bad "health: unknown region" "unknown region 'nowhere' \\(regions: americas, emea, apac, lab\\)" 1 \
	health nowhere down
bad "health: neither down nor up" "health: 'sideways' is not down or up" 1 health americas sideways
bad "health: no state" "usage: health REGION down\\|up" 1 health americas
bad "health: unknown option" "unexpected '--for'" 1 health americas down --for 1m
bad "shed: percent 150" "--percent '150': write a number above 0 and at most 100" 1 \
	shed americas --percent 150 --for 1m --reason x
bad "drain: negative duration" "--for '-5s': write a whole number" 1 drain americas --for -5s --reason x
bad "drain: garbage duration" "--for 'soon'" 1 drain americas --for soon --reason x
bad "dry run: percent 150" "--percent '150'" 1 shed americas --percent 150 --for 1m --reason x --dry-run
bad "dry run: unknown region" "unknown region 'mars'" 1 health mars down --dry-run
bad "undo --dry-run of no override" "no active override #7" 1 undo 7 --dry-run
bad "--clients without --dry-run" "--clients goes with --dry-run" 1 \
	health emea down --clients "$TEST_TMP/clients"
bad "--clients: a garbage line (FILE:LINE)" "bad-clients:2: not PREFIX WEIGHT" 2 \
	health emea down --dry-run --clients "$TEST_TMP/bad-clients"
bad "--clients: a negative weight" "neg-clients:1: not PREFIX WEIGHT" 2 \
	health emea down --dry-run --clients "$TEST_TMP/neg-clients"
bad "--clients: a missing file" "--clients $TEST_TMP/none: " 2 \
	health emea down --dry-run --clients "$TEST_TMP/none"
# the daemon checks the lines itself (a client that is not geovipctl)
raw() {
	python3 - "$SOCK" "$1" <<'PYEOF'
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(15)
s.connect(sys.argv[1])
s.sendall(eval(sys.argv[2]))
data = b""
while True:
    try:
        b = s.recv(65536)
    except (ConnectionResetError, socket.timeout):
        break
    if not b:
        break
    data += b
print(data.decode("utf-8", "replace").strip().splitlines()[-1] if data else "(nothing)")
PYEOF
}
check "socket: a garbage client line" "ERROR clients line 2: 'garbage' is not PREFIX WEIGHT (e.g. 192.0.2.0/24 1500)" \
	"$(raw 'b"health\temea\tdown\t--dry-run\t--clients\t2\n81.0.0.0/8 1\ngarbage\n"')"
check "socket: --clients 0" "ERROR --clients N: the number of \`PREFIX WEIGHT\` lines that follow, 1 to 100000" \
	"$(raw 'b"health\temea\tdown\t--dry-run\t--clients\t0\n"')"
check "socket: --clients too many" "ERROR --clients N: the number of \`PREFIX WEIGHT\` lines that follow, 1 to 100000" \
	"$(raw 'b"health\temea\tdown\t--dry-run\t--clients\t100001\n"')"
check "after bad input: generation unchanged" "$GEN0" "$(generation)"
check_nogrep "after bad input: no audit line" "audit:" "$(cat "$SERVER_LOG")"
check_nogrep "after bad input: no health state" "^health " "$(ctl status)"

# --- hysteresis: three reports, or the 2 s hold-down
out=$(ctl health americas down --reason "PoP fire, ticket 7")
check_grep "report 1 of 3: pending" "^health americas down: pending \\(1 report\\(s\\); the config's health: hold_down 5s, reports 3\\)" "$out"
check "report 1: the client is still americas" 192.0.2.10 "$(src_of 127.0.10.1)"
out=$(ctl health americas down --reason "PoP fire, ticket 7")
check_grep "report 2 of 3: pending" "pending \\(2 report\\(s\\)" "$out"
check_grep "status: the pending change" "^health americas up pending down \\(2 report\\(s\\) since 20.*, in effect by 20.*\\) by uid $(id -u) reason \"PoP fire, ticket 7\"" "$(ctl status)"
out=$(ctl health americas down --reason "PoP fire, ticket 7")
check_grep "report 3 of 3: in effect" "^health americas down: in effect; generation [0-9]+ serving" "$out"
out=$(spread src 10 49 "spread:emea:3,apac:5,lab:1")
echo "# americas down: $out" | head -1
check "americas down: every client's region is python's weighted rendezvous draw" 0 "$(mismatches "$out")"
check_nogrep "americas down: no client left on americas" "americas=" "$out"
check_grep "audit: the reports" "audit: uid $(id -u) reported americas down: pending \\(hysteresis\\)" "$(cat "$SERVER_LOG")"
check_grep "audit: in effect" "audit: health americas down since 20.*: in effect" "$(cat "$SERVER_LOG")"
out=$(ctl status)
check_grep "status: americas down" "^region americas vips 192.0.2.10 capacity 2 down \\(health: local\\)$" "$out"
check_grep "status: the health line" "^health americas down since 20.* by uid $(id -u) reason \"PoP fire, ticket 7\"" "$out"
out=$(ctl lookup 127.0.10.1)
want=$(spread src 10 10 "spread:emea:3,apac:5,lab:1" | sed -n 's/^mismatch=0 \([a-z]*\)=1$/\1/p')
check_grep "lookup: which regions are down" "^health +down: americas$" "$out"
check_grep "lookup: the draw" "^spread +americas is down: K=24 h=[0-9]+, scores -ln\\(u\\)/capacity emea \\(capacity 3\\) [0-9.]+, apac \\(capacity 5\\) [0-9.]+, lab \\(capacity 1\\) [0-9.]+ → lowest: $want$" "$out"
check_grep "lookup: the answer region" "^answer region +$want$" "$out"
out=$(ctl lookup 8.8.8.0/24)
check_grep "lookup: ECS scope raised to K when down" "^ecs scope +24$" "$out"
out=$("$GEOVIPD" -c "$CONF" --lookup 127.0.10.1 2>/dev/null)
check_grep "geovipd --lookup reads the state file: the draw" "→ lowest: $want$" "$out"

# one report of up: pending until the 5 s hold-down runs out (one dig
# right after it; 5 s, not less: a loaded machine is slow to start tools)
out=$(ctl health americas up --reason "fire out")
check_grep "up: pending" "^health americas up: pending \\(1 report" "$out"
vips() { case $1 in emea) echo 198.51.100.10 ;; apac) echo 203.0.113.10 ;; lab) echo 192.0.2.77 ;; *) echo 192.0.2.10 ;; esac; }
check "up pending: 127.0.10.1 still on $want" "$(vips "$want")" "$(src_of 127.0.10.1)"
if wait_log "audit: health americas up since 20.*: in effect" 1 15; then ok "up: in effect after the hold-down"
else fail "up: not in effect within 15 s (hold-down 5 s)"; fi
check "americas up: every client back" 0 "$(mismatches "$(spread src 10 49 stay:americas)")"
check_nogrep "americas up: no health state kept" "^health " "$(ctl status)"

# a flapping feed: down, up, down, up... never three in a row, never 5 s
for i in 1 2 3; do
	ctl health apac down > /dev/null
	ctl health apac up > /dev/null
done
check "flapping reports: apac never went down" "" "$(grep 'health apac down since.*in effect' "$SERVER_LOG")"

# --- fallback: lab's clients go to emea (its fallback) while emea is up
for i in 1 2 3; do ctl health lab down --reason maintenance > /dev/null; done
check "lab down: its client goes to its fallback emea" 198.51.100.10 "$(src_of 127.0.7.1)"

# --- persistence: restart and reload keep lab down
stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
start_server
check_grep "restart: health restored" "restored health lab down since 20.*maintenance" "$(cat "$SERVER_LOG")"
check "restart: lab still down (client on emea)" 198.51.100.10 "$(src_of 127.0.7.1)"
out=$(ctl reload)
check_grep "reload: ok" "^reloaded: generation" "$out"
check "reload: lab still down" 198.51.100.10 "$(src_of 127.0.7.1)"

# --- every region down: answered as if all were up, logged once
for r in americas emea apac; do
	for i in 1 2 3; do ctl health $r down > /dev/null; done
done
check "all down: the log says so once" 1 "$(grep -c 'health: every region is down; answering as if all were up' "$SERVER_LOG")"
check "all down: 127.0.10.1 answered by americas" 192.0.2.10 "$(src_of 127.0.10.1)"
check "all down: 127.0.7.1 answered by lab" 192.0.2.77 "$(src_of 127.0.7.1)"
check_grep "all down: lookup says so" "every region is down: answering as if all were up" "$(ctl lookup 127.0.10.1)"
for i in 1 2 3; do ctl health emea up > /dev/null; done
check "one up again: logged" 1 "$(grep -c 'not every region is down any more' "$SERVER_LOG")"
check "only emea up: 127.0.10.1 goes there" 198.51.100.10 "$(src_of 127.0.10.1)"
for r in americas apac lab; do
	for i in 1 2 3; do ctl health $r up > /dev/null; done
done
check_nogrep "all up: no health state kept" "^health " "$(ctl status)"
check "all up: 127.0.10.1 americas" 192.0.2.10 "$(src_of 127.0.10.1)"

# --- drain without --to: spread by capacity like a down region
out=$(ctl drain emea --for 1h --reason "spread test")
check_grep "drain: spread by capacity" "^override #1: drain emea to \\(up regions by capacity\\) 100.00%" "$out"
out=$(spread ecs 0 39 "spread:americas:2,apac:5,lab:1")
echo "# drain emea: $out" | head -1
check "drain: every ECS client's region is python's draw" 0 "$(mismatches "$out")"
check_grep "drain: status" "^region emea vips 198.51.100.10 capacity 3 shed 100.00% by capacity \\(override #1\\)$" "$(ctl status)"
ctl undo 1 > /dev/null
out=$(ctl drain emea --to apac --for 1h --reason "to apac")
check "drain --to: all to apac" 0 "$(mismatches "$(spread ecs 0 9 stay:apac)")"
ID_APAC=$(printf '%s\n' "$out" | sed -n 's/^override #\([0-9]*\):.*/\1/p')

# --- dry runs against a brute force over geo/sample.txt
GEN1=$(generation)
AUDITS=$(grep -c "audit:" "$SERVER_LOG")
dry() { ctl "$@" --dry-run --clients "$TEST_TMP/clients"; }
field() { printf '%s\n' "$1" | sed -n "s/^$2 \\([0-9.]*\\)%.*/\\1/p"; }
out_undo=$(ctl undo "$ID_APAC" --dry-run --clients "$TEST_TMP/clients")
check "undo dry run: nothing changed (generation)" "$GEN1" "$(generation)"
check_grep "undo dry run: the override still there" "^override #$ID_APAC " "$(ctl overrides)"
ctl undo "$ID_APAC" > /dev/null
GEN1=$(generation)
AUDITS=$(grep -c "audit:" "$SERVER_LOG")
out_drain=$(dry drain emea --for 1h --reason x)
out_down=$(dry health emea down)
out_shed=$(dry shed emea --to apac --percent 30 --for 1h --reason x)
out_up=$(ctl health emea up --dry-run)
printf '%s\n' "$out_drain" | sed 's/^/# drain dry run: /'
check_grep "dry run: says nothing changed" "^dry run \\(nothing changed\\): drain emea to \\(up regions by capacity\\) 100.00%" "$out_drain"
check_grep "dry run: networks" "^networks [1-9][0-9]* of [0-9]+ public networks of the merged tree would change region" "$out_drain"
check "dry run: nothing changed (generation)" "$GEN1" "$(generation)"
check "dry run: nothing changed (no audit line)" "$AUDITS" "$(grep -c "audit:" "$SERVER_LOG")"
check "dry run: no override" "0 active" "$(ctl overrides)"
# the brute force: sample.txt's networks painted in order (later wins),
# regions by country override then continent then default, private and
# IPv4-carrying IPv6 ranges left out; leaves sampled as dryrun.c says (the
# copy of the IPv4 map under ::/96 is left out: 2^-96 of the IPv6 space)
python3 - "$top_srcdir" "$SHED_KEY" > "$TEST_TMP/brute" <<'PYEOF'
import ipaddress, sys
sys.path.insert(0, sys.argv[1] + "/tests/integration")
from dnsclient import PRIVATE, is_shed, shed_hash
key = bytes.fromhex(sys.argv[2])
CONT = {"NA": "americas", "SA": "americas", "EU": "emea", "AF": "emea",
        "AS": "apac", "OC": "apac", "AN": "lab"}
EMBEDDED = [ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "64:ff9b::/96", "2001::/32", "2002::/16")]
def region(fields):
    if fields.get("country") == "BR":
        return "emea"
    return CONT.get(fields.get("continent"), "americas")
paint = {4: [], 6: []}
for line in open(sys.argv[1] + "/geo/sample.txt"):
    line = line.split("#")[0].split()
    if not line:
        continue
    net = ipaddress.ip_network(line[0])
    fields = dict(f.split("=", 1) for f in line[1:])
    paint[net.version].append((net, region(fields)))
def emea_blocks(v):
    """The emea networks of family v, as maximal CIDR blocks of the
    painted (later wins) map, private and embedded ranges cut out."""
    bits = 32 if v == 4 else 128
    cuts = {0, 1 << bits}
    for net, _ in paint[v]:
        cuts |= {int(net.network_address), int(net.broadcast_address) + 1}
    for net in PRIVATE + EMBEDDED:
        if net.version == v:
            cuts |= {int(net.network_address), int(net.broadcast_address) + 1}
    cuts = sorted(cuts)
    def at(a):
        r = "americas"
        for net, reg in paint[v]:
            if int(net.network_address) <= a <= int(net.broadcast_address):
                r = reg
        for net in PRIVATE + EMBEDDED:
            if net.version == v and int(net.network_address) <= a <= int(net.broadcast_address):
                r = "excluded"
        return r
    spans, public = [], 0
    for a, b in zip(cuts, cuts[1:]):
        r = at(a)
        if r != "excluded":
            public += b - a
        if r == "emea":
            if spans and spans[-1][1] == a:
                spans[-1][1] = b
            else:
                spans.append([a, b])
    blocks = []
    for a, b in spans:
        first = ipaddress.ip_address(a) if v == 4 else ipaddress.IPv6Address(a)
        last = ipaddress.ip_address(b - 1) if v == 4 else ipaddress.IPv6Address(b - 1)
        blocks += list(ipaddress.summarize_address_range(first, last))
    return blocks, public
out = {}
for v, k in ((4, 24), (6, 56)):
    blocks, public = emea_blocks(v)
    bits = 32 if v == 4 else 128
    every = sum(b.num_addresses for b in blocks)
    moved30 = 0.0
    wide = sum(b.num_addresses for b in blocks if b.prefixlen < k)
    for b in blocks:
        # up to 256 evenly spaced /K networks, fewer for a leaf that is
        # a small part of the touched wide space (dryrun.c's budget)
        extra = min(max(k - b.prefixlen, 0), 8)
        if extra > 0:
            most = 0
            while most < 8 and b.num_addresses / wide * (1 << 19) >= (2 << most):
                most += 1
            extra = min(extra, most)
        n = 1 << extra
        hits = 0
        for i in range(n):
            a = int(b.network_address) + (i << (bits - b.prefixlen - extra))
            addr = ipaddress.ip_address(a) if v == 4 else ipaddress.IPv6Address(a)
            hits += is_shed(key, addr, bits, 3000)
        moved30 += b.num_addresses * hits / n
    out["all%d" % v] = 100.0 * every / public
    out["shed%d" % v] = 100.0 * moved30 / public
# the client list: emea's prefixes move (all, or by the shed hash)
clients = [("81.1.0.0/24", 100, True), ("177.5.0.0/16", 50, True),
           ("8.8.8.0/24", 30, False), ("203.0.113.0/24", 20, False),
           ("2a00:1:2::/48", 7.5, True)]
total = sum(w for _, w, _ in clients)
out["clients_all"] = 100.0 * sum(w for _, w, e in clients if e) / total
out["clients_shed"] = 100.0 * sum(w for p, w, e in clients if e and is_shed(
    key, ipaddress.ip_network(p).network_address, ipaddress.ip_network(p).prefixlen, 3000)) / total
for k, v in sorted(out.items()):
    print(k, "%.4f" % v)
PYEOF
brute() { sed -n "s/^$1 //p" "$TEST_TMP/brute"; }
echo "# brute force: $(tr '\n' ' ' < "$TEST_TMP/brute")"
# within 0.0002 points: both sides round to 4 decimals
near() {
	python3 -c "import sys; sys.exit(0 if abs(float('$2') - float('$3')) <= 0.0002 else 1)" 2>/dev/null &&
		ok "$1 ($2%)" || fail "$1: daemon says '$2'%, brute force '$3'%"
}
near "drain emea: IPv4 share" "$(field "$out_drain" ipv4)" "$(brute all4)"
near "drain emea: IPv6 share" "$(field "$out_drain" ipv6)" "$(brute all6)"
near "drain emea: weighted clients" "$(field "$out_drain" clients)" "$(brute clients_all)"
check_grep "drain emea: client prefixes counted" "\\(3 of 5 prefixes\\)" "$out_drain"
near "shed emea 30%: IPv4 share" "$(field "$out_shed" ipv4)" "$(brute shed4)"
near "shed emea 30%: IPv6 share" "$(field "$out_shed" ipv6)" "$(brute shed6)"
near "shed emea 30%: weighted clients" "$(field "$out_shed" clients)" "$(brute clients_shed)"
for f in ipv4 ipv6 clients; do
	check "health emea down moves what drain emea does ($f)" "$(field "$out_drain" $f)" "$(field "$out_down" $f)"
	check "undo of the drain to apac moves what it moved ($f)" "$(field "$out_drain" $f)" "$(field "$out_undo" $f)"
done
check "health emea down: the same networks as drain" \
	"$(printf '%s\n' "$out_drain" | grep '^networks')" "$(printf '%s\n' "$out_down" | grep '^networks')"
check_grep "health emea up (already up): moves nothing" "^ipv4 0.0000% " "$out_up"
ms=$(printf '%s\n' "$out_drain" | sed -n 's/^computed in \([0-9.]*\) ms (networks wider than \/24 or \/56 decided on [0-9]* to 256 client networks each)$/\1/p')
[ -n "$ms" ] && ok "dry run time on the sample database: $ms ms" || fail "no 'computed in' line"

stop_server TERM
check "final SIGTERM exit status" 0 "$SERVER_STATUS"
finish
