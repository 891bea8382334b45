# tests/integration/lib-extra.sh — helpers on top of lib.sh for ecs.sh,
# shed.sh, reload.sh and lookup.sh: a config with every region rule (the
# regions of tests/fixtures/query/geovip.yaml, serving lib.sh's test zone),
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
regions:
  americas:
    continents: [NA, SA]
    vips: [192.0.2.10, "2001:db8:10::1"]
  emea:
    continents: [EU, AF]
    vips: [198.51.100.10, 198.51.100.11, "2001:db8:20::1"]
  apac:
    continents: [AS, OC]
    vips: [203.0.113.10]
  lab:
    continents: [AN]
    vips: [192.0.2.77, "2001:db8:77::1"]
default_region: americas
overrides:
  networks:
    "10.0.0.0/8": emea
    "192.0.2.192/26": apac
    "2001:db8:ffff::/48": apac
  countries:
    BR: emea
    AU: lab
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
