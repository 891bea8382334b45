# tests/integration/lib-extra.sh — helpers on top of lib.sh for ecs.sh,
# shed.sh, reload.sh and lookup.sh: a config with every region rule (the
# regions and overrides of tests/fixtures/query/geovip.yaml, copied by
# fixture_block, serving lib.sh's test zone),
# the raw DNS client, and a bounded wait on the server log. Sourced.

. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DNSCLIENT="$top_srcdir/tests/integration/dnsclient.py"
SHED_KEY=000102030405060708090a0b0c0d0e0f

# dnsq ARGS... — dnsclient.py against our server.
dnsq() {
	timeout 120 python3 "$DNSCLIENT" --port "$PORT" "$@"
}

# write_geo_config FILE [EXTRA_YAML_LINE...] — regions americas, emea, apac
# and lab, network and country overrides, lab shedding half to emea; the
# extra lines may add top-level keys (ecs:, shed:, ...).
write_geo_config() {
	local file=$1
	shift
	{
		echo "listen:"
		echo "  - 127.0.0.1:$PORT"
		[ "$HAVE_V6" = yes ] && echo "  - \"[::1]:$PORT\""
		cat <<EOF
geoip: $GEO_DB
workers: 2
$(fixture_block regions)
$(fixture_block overrides)
shed_key: "$SHED_KEY"
zones:
  - origin: $ZONE.
    file: $ZONE_FILE
    ttl: 30
    regional: ["@", www, api, "*.edge"]
EOF
		for line in "$@"; do
			echo "$line"
		done
	} > "$file"
}

# wait_log PATTERN COUNT SECONDS — waits until the server log holds COUNT
# lines matching PATTERN (extended regex); 0 if so, 1 on timeout.
wait_log() {
	local i n
	for i in $(seq 1 $(($3 * 20))); do
		n=$(grep -Ec -- "$1" "$SERVER_LOG")
		[ "$n" -ge "$2" ] && return 0
		sleep 0.05
	done
	return 1
}
