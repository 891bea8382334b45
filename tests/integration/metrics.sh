#!/bin/bash
# tests/integration/metrics.sh — the Prometheus listener (`metrics:`): a
# known set of queries (every regional reason, UDP and TCP), then a scrape
# parsed by prometheus_client's own parser and checked exactly against
# them; 404 for another path, 405 for another method; a metrics address
# already in use refused at start-up as FILE:LINE.
. "$(dirname "$0")/lib-extra.sh"
require python3
# the scrape parser: Debian's python3-prometheus-client, which another
# python3 first on PATH (pyenv, a venv) may not see
PY=
for p in python3 /usr/bin/python3; do
	"$p" -c 'import prometheus_client' 2>/dev/null && { PY=$p; break; }
done
[ -n "$PY" ] || { echo "SKIP: python3-prometheus-client not installed"; exit 77; }

pick_port
MPORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
write_zone 2024010101
SOCK=$TEST_TMP/ctl.sock
: "${GEOVIPCTL:=$top_builddir/src/geovipctl}"
write_geo_config "$CONF" "shed:" "  lab: { to: emea, percent: 50 }" \
	"metrics: 127.0.0.1:$MPORT" "control: $SOCK"
start_server
W=www.$ZONE
# start_server's readiness probe was counted already: keep a baseline
# and check the counters' growth
BASE=$TEST_TMP/base.prom
"$PY" -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode())' "$MPORT" > "$BASE"

# q EXPECTED_ANSWER DNSQ_ARGS... — one query; its answer is checked so a
# lost packet shows here rather than as a wrong count below.
q() {
	local want=$1 out
	shift
	out=$(dnsq "$@")
	check_grep "query $*" "$want" "$out"
}
AM=answer=192.0.2.10
EM="answer=198.51.100.10,198.51.100.11"
AP=answer=203.0.113.10
# regional, over UDP: region, reason, scope in the comments
q "$AM" q $W A --ecs 192.0.2.0/24                  # americas continent 25
q "$EM" q $W A --ecs 198.51.100.0/24               # emea continent 25
q "$AP" q $W A --ecs 192.0.2.192/26                # apac network 26
q "$EM" q $W A --ecs 177.1.2.0/24                  # emea country 8
q "$AP" --bind 127.0.2.1 q $W A --ecs 10.1.2.0/24  # apac continent+private 0
q "$EM" q $W A --ecs ::ffff:198.51.100.0/120       # emea continent+embedded 121
q "$EM" q $W A --ecs 1.0.0.0/24                    # lab→emea country+shed 24
q "$AM" q $W A --ecs 1.0.1.0/24                    # americas default 24
q "$AM" q $W A                                     # americas continent, no ECS, 0
# not regional, over UDP
q "rcode=NOERROR" q $ZONE SOA
q "rcode=NXDOMAIN" q nope.$ZONE TXT
q "rcode=REFUSED" q example.org A
# over TCP
q "$EM" q --tcp $W A --ecs 2001:db8:2::/48           # emea continent 48
q "rcode=NOERROR" q --tcp $ZONE MX

out=$("$PY" - "$MPORT" "$BASE" <<'EOF' 2>&1
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
url = "http://127.0.0.1:%s/metrics" % sys.argv[1]
text = urllib.request.urlopen(url, timeout=10).read().decode()

def samples(text):
    out, types = {}, {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
            types[s.name] = fam.type
    return out, types

got, types = samples(text)
base, _ = samples(open(sys.argv[2]).read())
# counters and histograms: what the queries below added
for k in got:
    if types[k[0]] in ("counter", "histogram") and k in base:
        got[k] -= base[k]

def v(name, **labels):
    return got.get((name, tuple(sorted(labels.items()))))

expect = [
    (("geovip_queries_total", {"transport": "udp"}), 12),
    (("geovip_queries_total", {"transport": "tcp"}), 2),
    (("geovip_queries_by_qtype_total", {"qtype": "A"}), 11),
    (("geovip_queries_by_qtype_total", {"qtype": "SOA"}), 1),
    (("geovip_queries_by_qtype_total", {"qtype": "TXT"}), 1),
    (("geovip_queries_by_qtype_total", {"qtype": "MX"}), 1),
    (("geovip_queries_by_qtype_total", {"qtype": "AAAA"}), 0),
    (("geovip_queries_by_qtype_total", {"qtype": "other"}), 0),
    (("geovip_responses_by_rcode_total", {"rcode": "NOERROR"}), 12),
    (("geovip_responses_by_rcode_total", {"rcode": "NXDOMAIN"}), 1),
    (("geovip_responses_by_rcode_total", {"rcode": "REFUSED"}), 1),
    (("geovip_responses_by_rcode_total", {"rcode": "FORMERR"}), 0),
    (("geovip_regional_answers_total", {"region": "americas"}), 3),
    (("geovip_regional_answers_total", {"region": "emea"}), 5),
    (("geovip_regional_answers_total", {"region": "apac"}), 2),
    (("geovip_regional_answers_total", {"region": "lab"}), 0),
    (("geovip_regional_reasons_total", {"reason": "continent"}), 6),
    (("geovip_regional_reasons_total", {"reason": "network_override"}), 1),
    (("geovip_regional_reasons_total", {"reason": "country_override"}), 2),
    (("geovip_regional_reasons_total", {"reason": "default"}), 1),
    (("geovip_regional_reasons_total", {"reason": "private_ecs"}), 1),
    (("geovip_regional_reasons_total", {"reason": "embedded_ipv4"}), 1),
    (("geovip_regional_reasons_total", {"reason": "shed"}), 1),
    (("geovip_regional_reasons_total", {"reason": "runtime_override"}), 0),
    (("geovip_regional_ecs_total", {"ecs": "present"}), 9),
    (("geovip_regional_ecs_total", {"ecs": "absent"}), 1),
    (("geovip_ecs_scope_bucket", {"le": "0"}), 2),
    (("geovip_ecs_scope_bucket", {"le": "8"}), 3),
    (("geovip_ecs_scope_bucket", {"le": "16"}), 3),
    (("geovip_ecs_scope_bucket", {"le": "24"}), 5),
    (("geovip_ecs_scope_bucket", {"le": "32"}), 8),
    (("geovip_ecs_scope_bucket", {"le": "48"}), 9),
    (("geovip_ecs_scope_bucket", {"le": "96"}), 9),
    (("geovip_ecs_scope_bucket", {"le": "128"}), 10),
    (("geovip_ecs_scope_bucket", {"le": "+Inf"}), 10),
    (("geovip_ecs_scope_count", {}), 10),
    (("geovip_ecs_scope_sum", {}), 301),
    (("geovip_tcp_connections_total", {"event": "accepted"}), 2),
    (("geovip_tcp_connections_total", {"event": "refused"}), 0),
    (("geovip_rrl_responses_total", {"action": "dropped"}), 0),
    (("geovip_rrl_responses_total", {"action": "slipped"}), 0),
    (("geovip_reloads_total", {"result": "ok"}), 0),
    (("geovip_reloads_total", {"result": "failed"}), 0),
    (("geovip_generation", {}), 1),
    (("geovip_workers", {}), 2),
]
bad = 0
for (name, labels), want in expect:
    have = v(name, **labels)
    if have != want:
        print("MISMATCH %s%s: %r, expected %r" % (name, labels, have, want))
        bad += 1
info = [k for k in got if k[0] == "geovip_build_info"]
if len(info) != 1 or got[info[0]] != 1:
    print("MISMATCH geovip_build_info: %r" % info); bad += 1
if not v("geovip_load_seconds") or v("geovip_load_seconds") <= 0:
    print("MISMATCH geovip_load_seconds: %r" % v("geovip_load_seconds")); bad += 1
# no zone is signed: no signature-expiry sample (dnssec.sh checks one)
if "geovip_dnssec_signature_expiry_seconds" in types:
    print("MISMATCH: a signature expiry gauge without a signed zone"); bad += 1
print("checked %d samples, %d mismatches" % (len(expect) + 3, bad))
EOF
)
echo "$out"
check_grep "scrape parsed and every count as sent" "^checked [0-9]+ samples, 0 mismatches$" "$out"

# other paths and methods
code() {
	python3 - "$@" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2])
try:
    print(urllib.request.urlopen(req, timeout=10).status)
except urllib.error.HTTPError as e:
    print(e.code)
EOF
}
check "GET /nope is 404" 404 "$(code "http://127.0.0.1:$MPORT/nope" GET)"
check "GET / is 404" 404 "$(code "http://127.0.0.1:$MPORT/" GET)"
check "POST /metrics is 405" 405 "$(code "http://127.0.0.1:$MPORT/metrics" POST)"
check "GET /metrics?x=1 is 200" 200 "$(code "http://127.0.0.1:$MPORT/metrics?x=1" GET)"

# a reload counts; the generation moves
kill -HUP "$SERVER_PID"
wait_log "reloaded generation 2" 1 30 || fail "no reload"
out=$("$PY" - "$MPORT" <<'EOF'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
d = {(s.name, tuple(s.labels.items())): s.value for f in text_string_to_metric_families(t) for s in f.samples}
print("ok=%d generation=%d" % (d[("geovip_reloads_total", (("result", "ok"),))], d[("geovip_generation", ())]))
EOF
)
check "after SIGHUP: one reload ok, generation 2" "ok=1 generation=2" "$out"

# a runtime override (geovipctl drain): its answers count as shed and as
# runtime_override; the config's shed (lab → emea above) counted as shed only
reasons() {
	"$PY" - "$MPORT" <<'EOF'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
t = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=10).read().decode()
d = {s.labels.get("reason"): s.value for f in text_string_to_metric_families(t) for s in f.samples if s.name == "geovip_regional_reasons_total"}
print("shed=%d runtime_override=%d" % (d["shed"], d["runtime_override"]))
EOF
}
before=$(reasons)
check "before the drain: no runtime_override" "shed=1 runtime_override=0" "$before"
out=$(timeout 30 "$GEOVIPCTL" -s "$SOCK" drain apac --to emea --for 10m --reason "metrics test" 2>&1)
check_grep "drain apac to emea" "^override #1: drain apac to emea 100.00%" "$out"
q "$EM" q $W A --ecs 192.0.2.192/26                # apac network → emea (drained)
q "$EM" q $W A --ecs 1.0.0.0/24                    # lab→emea: the config's shed
check "after the drain: two more sheds, one a runtime override" \
	"shed=3 runtime_override=1" "$(reasons)"

# the metrics address in use: refused at start-up, naming FILE:LINE
PORT2=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
sed -e "s/127.0.0.1:$PORT\$/127.0.0.1:$PORT2/" -e '/\[::1\]/d' "$CONF" > "$TEST_TMP/busy.yaml"
line=$(grep -n '^metrics:' "$TEST_TMP/busy.yaml" | cut -d: -f1)
out=$(timeout 30 "$GEOVIPD" -c "$TEST_TMP/busy.yaml" 2>&1)
rc=$?
check "metrics address in use: exit 1" 1 "$rc"
check_grep "metrics address in use: FILE:LINE" \
	"$TEST_TMP/busy.yaml:$line: cannot listen for metrics on 127\.0\.0\.1:$MPORT: Address already in use" "$out"

stop_server
finish
