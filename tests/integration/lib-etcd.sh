# tests/integration/lib-etcd.sh — a real etcd on loopback for the fleet
# tests: free client and peer ports picked at run time, started and
# stopped by its PID (start_etcd, stop_etcd), etcdctl_ against it. Sourced
# after lib-extra.sh, not run; skips the test (77) when etcd is missing
# outside CI.

if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
	# CI installs etcd-server and etcd-client: there the test must run
	[ -n "${CI:-}" ] && { echo "FAIL - etcd or etcdctl missing in CI"; exit 1; }
	echo "SKIP: etcd (etcd-server) or etcdctl (etcd-client) not found"
	exit 77
fi

ETCD_PID=
# Two free TCP ports on 127.0.0.1 for etcd's client and peer URLs.
read -r EC EP < <(python3 - <<'PYEOF'
import socket
socks = [socket.socket() for _ in range(2)]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in socks])
PYEOF
)
ETCD_URL=http://127.0.0.1:$EC
ETCD_LOG="$TEST_TMP/etcd.log"
etcdctl_() { ETCDCTL_API=3 timeout 20 etcdctl --endpoints="$ETCD_URL" "$@"; }

start_etcd() {
	local i
	etcd --name geovip-test --data-dir "$TEST_TMP/etcd" \
		--listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
		--listen-peer-urls "http://127.0.0.1:$EP" \
		--initial-advertise-peer-urls "http://127.0.0.1:$EP" \
		--initial-cluster "geovip-test=http://127.0.0.1:$EP" \
		>>"$ETCD_LOG" 2>&1 &
	ETCD_PID=$!
	for i in $(seq 1 100); do
		etcdctl_ get /geovip-probe >/dev/null 2>&1 && return 0
		kill -0 "$ETCD_PID" 2>/dev/null || break
		sleep 0.2
	done
	echo "FAIL - etcd did not start:"; tail -20 "$ETCD_LOG"
	exit 1
}
stop_etcd() {
	kill -KILL "$ETCD_PID" 2>/dev/null
	wait "$ETCD_PID" 2>/dev/null
	ETCD_PID=
}
