#!/bin/bash
# tests/integration/faults.sh — SIGHUP with the new set broken in ways
# reload.sh does not try: zone files half-written (cut mid-record, cut inside
# a multi-line SOA) or wrong on line 5000, geo files empty, a directory, CSV,
# cut at the tail or spliced, configs valid as YAML but wrong in meaning.
# Each keeps the old generation answering and logs FILE:LINE (or FILE:
# reason); fixing it reloads. Then 100 SIGHUPs in a burst under UDP load:
# every query answered, reloads coalesced, the last config served.
. "$(dirname "$0")/lib-extra.sh"
require dig python3

W=www.$ZONE
GOOD_CONF="$TEST_TMP/good.yaml"

# make_zone SERIAL — the test zone with a multi-line SOA (lines 3–6), the
# token, a TXT naming the serial (line 10) and filler up to line 5005, so
# "line 5000" is a plain record and a reload does some real work.
make_zone() {
	{
		cat <<EOF
\$ORIGIN $ZONE.
\$TTL 300
@       IN SOA ns1 hostmaster (
                $1 ; serial
                3600 600
                86400 60 )
@       IN NS  ns1
ns1     IN A   192.0.2.53
token   IN TXT "$TOKEN"
gen     IN TXT "gen-$1"
EOF
		awk 'BEGIN { for (i = 11; i <= 5005; i++)
			printf "h%d IN A 192.0.2.%d\n", i, i % 250 + 1 }'
	}
}

# put FILE DEST — replaces DEST atomically, as a careful operator would;
# the faults below are written in place on purpose.
put() {
	cp "$1" "$DEST_TMP" && mv -f "$DEST_TMP" "$2"
}
DEST_TMP="$TEST_TMP/put.tmp"

# wait_count PATTERN COUNT SECONDS — wait_log, scaled for a slow wrapper.
wait_count() {
	wait_log "$1" "$2" $(($3 * WAIT_SCALE))
}

generation() {
	sed -n 's/.*\(loaded\|reloaded\) generation \([0-9]*\):.*/\2/p' \
		"$SERVER_LOG" | tail -1
}

# serving NAME — the serving set is generation $GEN with zone serial
# $SERIAL: its zone data, the serial's TXT, and its regional answer.
serving() {
	kill -0 "$SERVER_PID" 2>/dev/null || fail "$1: server died"
	check "$1: TXT gen-$SERIAL answers" "gen-$SERIAL" \
		"$(dig_short gen.$ZONE TXT | tr -d '"')"
	check "$1: SOA serial $SERIAL" "$SERIAL" \
		"$(dig_short $ZONE SOA | awk '{ print $3 }')"
	check "$1: regional answer" "192.0.2.10" "$(dig_short $W A)"
}

# hup_refused NAME LOG_REGEX... — SIGHUP; one more "reload failed, keeping
# generation $GEN" line must appear, the old set must answer, and every
# LOG_REGEX must match a line logged by this reload.
FAILED=0
hup_refused() {
	local name=$1 re new
	shift
	local before
	before=$(wc -l < "$SERVER_LOG")
	FAILED=$((FAILED + 1))
	kill -HUP "$SERVER_PID"
	if wait_count "reload failed, keeping generation $GEN\$" "$FAILED" 5; then
		ok "$name: reload refused, generation $GEN kept"
	else
		fail "$name: no 'reload failed, keeping generation $GEN' within 5 s"
	fi
	serving "$name: old set"
	new=$(sed -n "$((before + 1)),\$p" "$SERVER_LOG")
	for re in "$@"; do
		check_grep "$name: log says '$re'" "$re" "$new"
	done
	check_nogrep "$name: no reload" "reloaded generation" "$new"
}

pick_port
make_zone 1001 > "$ZONE_FILE"
write_geo_config "$GOOD_CONF"
cp "$GOOD_CONF" "$CONF"
start_server
GEN=$(generation)
SERIAL=1001
check "start: generation 1" 1 "$GEN"
serving "start"
make_zone 1002 > "$TEST_TMP/new.zone"    # the next version of the zone

# --- zone files ---------------------------------------------------------
# Half-written: the new version cut inside line 3000's address.
line=$(sed -n '3000p' "$TEST_TMP/new.zone")
cut=$(( $(head -2999 "$TEST_TMP/new.zone" | wc -c) + ${#line} - 4 ))
head -c "$cut" "$TEST_TMP/new.zone" > "$ZONE_FILE"
check "test setup: zone cut inside line 3000" "${line%????}" "$(tail -1 "$ZONE_FILE")"
hup_refused "zone cut mid-record" "error: $ZONE_FILE:3000: "

# Half-written inside the multi-line SOA (after its line 5 of 3–6): the
# error is at the SOA (lines 3–5), and there is no SOA.
head -5 "$TEST_TMP/new.zone" > "$ZONE_FILE"
hup_refused "zone cut inside the SOA" "error: $ZONE_FILE:[345]: " \
	"$ZONE_FILE.*SOA"

# A syntax error on line 5000 of 5005: the line number must be exact.
sed '5000s/.*/h5000 IN A 192.0.2.300/' "$TEST_TMP/new.zone" > "$ZONE_FILE"
hup_refused "zone error on line 5000" "error: $ZONE_FILE:5000: "

make_zone "$SERIAL" > "$ZONE_FILE"

# --- geo databases (reload.sh tries missing, random bytes, half a file) ---
geo_line=$(grep -n '^geoip:' "$GOOD_CONF" | cut -d: -f1)
# geo_fault NAME FILE REASON_REGEX — config pointing at FILE is refused,
# naming the file with the reason and the config line.
geo_fault() {
	sed "s|^geoip: .*|geoip: $2|" "$GOOD_CONF" > "$TEST_TMP/geo.yaml"
	put "$TEST_TMP/geo.yaml" "$CONF"
	hup_refused "$1" "error: $2: .*$3" \
		"error: $CONF:$geo_line: .*$(basename "$2")"
}
: > "$TEST_TMP/empty.mmdb"
geo_fault "empty geo file" "$TEST_TMP/empty.mmdb" "empty"
mkdir "$TEST_TMP/dir.mmdb"
geo_fault "geo path is a directory" "$TEST_TMP/dir.mmdb" "directory"
printf 'network,geoname_id,registered_country_geoname_id\n1.0.0.0/24,2077456,2077456\n' \
	> "$TEST_TMP/geo.csv"
geo_fault "geo file is CSV" "$TEST_TMP/geo.csv" "MaxMind DB"
# the tail cut: the metadata (at the end of an .mmdb) is damaged
head -c $(($(wc -c < "$GEO_DB") - 20)) "$GEO_DB" > "$TEST_TMP/tail.mmdb"
geo_fault "geo file missing its last 20 bytes" "$TEST_TMP/tail.mmdb" "MaxMind DB"
# metadata intact but 1000 bytes of the tree gone: sizes disagree
{ head -c 200 "$GEO_DB"; tail -c +1201 "$GEO_DB"; } > "$TEST_TMP/splice.mmdb"
geo_fault "geo file with its middle cut out" "$TEST_TMP/splice.mmdb" "MaxMind DB"

# --- configs that are valid YAML but wrong in meaning --------------------
sed 's/^default_region: .*/default_region: mars/' "$GOOD_CONF" > "$TEST_TMP/bad.yaml"
bad_line=$(grep -n '^default_region:' "$TEST_TMP/bad.yaml" | cut -d: -f1)
put "$TEST_TMP/bad.yaml" "$CONF"
hup_refused "unknown default_region" \
	"error: $CONF:$bad_line: .*unknown region 'mars'"

{ cat "$GOOD_CONF"; printf 'shed:\n  emea: { to: emea, percent: 10 }\n'; } \
	> "$TEST_TMP/bad.yaml"
bad_line=$(grep -n 'to: emea' "$TEST_TMP/bad.yaml" | cut -d: -f1)
put "$TEST_TMP/bad.yaml" "$CONF"
hup_refused "shed to itself" "error: $CONF:$bad_line: .*emea.*itself"

# --- fixed: the new zone and a good config load ---------------------------
put "$TEST_TMP/new.zone" "$ZONE_FILE"
put "$GOOD_CONF" "$CONF"
kill -HUP "$SERVER_PID"
if wait_count "reloaded generation $((GEN + 1)):" 1 5; then
	ok "fixed: reloaded generation $((GEN + 1))"
else
	fail "fixed: no 'reloaded generation $((GEN + 1))' within 5 s"
fi
GEN=$((GEN + 1))
SERIAL=1002
serving "fixed: new set"
check "failed reloads logged" "$FAILED" \
	"$(grep -c 'reload failed, keeping generation' "$SERVER_LOG")"

# --- a burst of 100 SIGHUPs under UDP load --------------------------------
# Three configs give americas (127.0.0.1's region) distinct VIP sets; the
# burst writes A, B, A, then C before its last quarter: C must win.
vips() {
	sed "s|^    vips: \[192\.0\.2\.10, \"2001:db8:10::1\"\]|    vips: [$1]|" \
		"$GOOD_CONF" > "$2"
	cmp -s "$GOOD_CONF" "$2" && fail "test setup: cannot derive $2"
}
vips "192.0.2.11, 192.0.2.12" "$TEST_TMP/a.yaml"
vips "192.0.2.21, 192.0.2.22" "$TEST_TMP/b.yaml"
vips "192.0.2.31, 192.0.2.32" "$TEST_TMP/c.yaml"
reloads_before=$(grep -c "reloaded generation" "$SERVER_LOG")
python3 "$DNSCLIENT" --port "$PORT" load --name $W --duration 3 --window 8 \
	--timeout 2 --sets "192.0.2.10|192.0.2.11,192.0.2.12|192.0.2.21,192.0.2.22|192.0.2.31,192.0.2.32" \
	> "$TEST_TMP/load.out" 2>&1 &
loader=$!
sleep 0.7
t0=$(date +%s%N)
for i in $(seq 0 99); do
	case $i in
	0) put "$TEST_TMP/a.yaml" "$CONF" ;;
	25) put "$TEST_TMP/b.yaml" "$CONF" ;;
	50) put "$TEST_TMP/a.yaml" "$CONF" ;;
	75) put "$TEST_TMP/c.yaml" "$CONF" ;;
	esac
	kill -HUP "$SERVER_PID"
done
burst_ms=$((($(date +%s%N) - t0) / 1000000))
# 2 s, not 1: the shell's loop of 100 fork+kill is what is timed, and on a
# shared 2-core machine at load 12-14 it took 1.0-1.6 s with the old daemon
# too; 2 s still ends the burst inside the 3 s load that started 0.7 s before
if [ "$burst_ms" -lt 2000 ]; then
	ok "100 SIGHUPs sent in $burst_ms ms"
else
	fail "100 SIGHUPs took $burst_ms ms (≥ 2 s)"
fi
timeout $((30 * WAIT_SCALE)) tail --pid=$loader -f /dev/null
wait "$loader"
load=$(head -1 "$TEST_TMP/load.out")
echo "# burst load: $load"
sed -n '2,$p' "$TEST_TMP/load.out" | head -10
field() { printf '%s\n' "$load" | sed -n "s/.*\b$1=\([0-9/]*\).*/\1/p"; }
check "burst: zero lost UDP queries" 0 "$(field lost)"
check "burst: every answer is one of the configs' sets" 0 "$(field other)"
# a floor proving the load really ran across the burst (a few hundred q/s;
# valgrind slows the server tenfold, and the floor with it)
min_sent=$((1000 / WAIT_SCALE))
if [ "$(field sent)" -ge "$min_sent" ] 2>/dev/null; then
	ok "burst: $(field sent) queries answered during the load (≥ $min_sent)"
else
	fail "burst: only '$(field sent)' queries sent (< $min_sent)"
fi
kill -0 "$SERVER_PID" 2>/dev/null && ok "burst: server alive" || fail "burst: server died"

# the last reload started after the last SIGHUP, so it read C
last=
for i in $(seq 1 $((100 * WAIT_SCALE))); do
	last=$(dig_short $W A)
	[ "$last" = "192.0.2.31 192.0.2.32" ] && break
	sleep 0.05
done
check "burst: the latest config (C) is served" "192.0.2.31 192.0.2.32" "$last"
sleep 0.5
reloads=$(($(grep -c "reloaded generation" "$SERVER_LOG") - reloads_before))
echo "# burst: $reloads reloads for 100 SIGHUPs"
if [ "$reloads" -ge 1 ] && [ "$reloads" -le 50 ]; then
	ok "burst: reloads coalesced ($reloads for 100 SIGHUPs)"
else
	fail "burst: $reloads reloads for 100 SIGHUPs (want 1..50)"
fi
check "burst: no failed reload" "$FAILED" \
	"$(grep -c 'reload failed, keeping generation' "$SERVER_LOG")"
check "burst: zone still served" "$TOKEN" "$(dig_short token.$ZONE TXT | tr -d '"')"

stop_server TERM
check "SIGTERM exit status" 0 "$SERVER_STATUS"
finish
