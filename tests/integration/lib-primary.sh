# tests/integration/lib-primary.sh — what secondary.sh (NSD) and ixfr.sh
# (Knot) share about a real primary on loopback: sec.test, its copy and
# TSIG secret, the primary's own port and directory beside ours, one
# clean-up for the primary and a fake one, queries to geovip for the
# secondary zone, a polling wait and a millisecond clock. Sourced after
# lib-extra.sh.

SEC=sec.test
COPY="$TEST_TMP/sec.test.copy"
KEY=$(head -c 32 /dev/urandom | base64)
PRIMARY_PID=
FAKE_PID=

# primary_setup DIR — PRIMARY_PORT for the primary, then PORT (another)
# for geovip; DIR made; the primary and a fake one stopped at exit.
primary_setup() {
	pick_port
	PRIMARY_PORT=$PORT
	pick_port
	[ "$PORT" != "$PRIMARY_PORT" ] || pick_port
	mkdir -p "$1"
	trap primary_cleanup EXIT
}

primary_cleanup() {
	[ -n "$PRIMARY_PID" ] && kill "$PRIMARY_PID" 2>/dev/null
	[ -n "$FAKE_PID" ] && kill "$FAKE_PID" 2>/dev/null
	wait 2>/dev/null
	lib_cleanup
}

# primary_stop — stops the primary and waits for it.
primary_stop() {
	kill "$PRIMARY_PID" 2>/dev/null
	wait "$PRIMARY_PID" 2>/dev/null
	PRIMARY_PID=
}

sec() { dig @127.0.0.1 -p "$PORT" +tries=1 +time=1 +short "$@"; }

# wait_answer EXPECTED SECONDS ARGS... — polls until sec ARGS prints it.
wait_answer() {
	local want=$1 secs=$2 i got=
	shift 2
	for i in $(seq 1 $((secs * 20))); do
		got=$(sec "$@" | tr -d '"' | tr '\n' ' ' | sed 's/ $//')
		[ "$got" = "$want" ] && { echo "$got"; return 0; }
		sleep 0.05
	done
	echo "$got"
	return 1
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }

# primary_config PRIMARY_PORT SECRET tsig|nokey [EXTRA_YAML_LINE...] —
# geovip's config (write_geo_config): sec.test a secondary of
# 127.0.0.1:PRIMARY_PORT into $COPY, signed with key xfrkey (SECRET)
# unless nokey, www regional; the extra lines after.
primary_config() {
	local port=$1 secret=$2 tsig="    tsig: xfrkey"
	[ "$3" = nokey ] && tsig="    ttl: 30"
	shift 3
	write_geo_config "$CONF" \
		"  - origin: $SEC." \
		"    file: $COPY" \
		"    primary: [\"127.0.0.1:$port\"]" \
		"$tsig" \
		"    regional: [www]" \
		"keys:" \
		"  xfrkey: {algorithm: hmac-sha256, secret: \"$secret\"}" \
		"$@"
}
