#!/bin/bash
# tests/integration/privdrop.sh — `user:`: geovipd binds as root, then runs
# as that user (real, effective and saved IDs, every thread, no
# capabilities) and still reloads; warnings and errors for root without
# `user:`, `user: root`, an unknown user, and a non-root start.
. "$(dirname "$0")/lib.sh"
require dig python3

if [ "$(id -u)" != 0 ]; then
	echo "skip - not root: the privilege drop can only be tested as root"
	exit 77
fi
if ! id nobody >/dev/null 2>&1; then
	echo "skip - no user 'nobody' on this system"
	exit 77
fi
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(id -g nobody)
REAL_GEOVIPD=$GEOVIPD

# After the drop the server re-reads config, zone and geo database as
# nobody on SIGHUP: everything it reads must be readable by nobody.
chmod 755 "$TEST_TMP"
cp "$GEO_DB" "$TEST_TMP/geo.mmdb"
GEO_DB="$TEST_TMP/geo.mmdb"
readable() { chmod 644 "$CONF" "$ZONE_FILE" "$GEO_DB"; }

# ids FIELD PID — "Uid:"/"Gid:" values (real effective saved fs) of every
# thread of PID, one line per distinct set.
ids() {
	cat /proc/"$2"/task/*/status 2>/dev/null |
		awk -v f="$1:" '$1 == f { $1 = ""; sub(/^ /, ""); print }' |
		sort -u
}

# wait_token VALUE — up to 5 s for token TXT to answer VALUE.
wait_token() {
	local i got=
	for i in $(seq 1 50); do
		got=$(dig_short token.$ZONE TXT | tr -d '"')
		[ "$got" = "$1" ] && break
		sleep 0.1
	done
	echo "$got"
}

# --- user: nobody — drop after binding, then serve and reload as nobody
setup "user: nobody"
readable
start_server
pid=$SERVER_PID
check "Uid of every thread: real effective saved fs" \
	"$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$(ids Uid "$pid")"
check "Gid of every thread: real effective saved fs" \
	"$NOBODY_GID $NOBODY_GID $NOBODY_GID $NOBODY_GID" "$(ids Gid "$pid")"
check_nogrep "no supplementary group 0" "(^| )0( |$)" "$(ids Groups "$pid")"
check "no effective capabilities" "0000000000000000" "$(ids CapEff "$pid")"
check "two workers and the main thread" 3 "$(ls /proc/"$pid"/task | wc -l)"
check_grep "log says which user" "running as user nobody" "$(cat "$SERVER_LOG")"
check_nogrep "no root warning with user:" "running as root" "$(cat "$SERVER_LOG")"
check "UDP answered after the drop" "192.0.2.10" "$(dig_short www.$ZONE A)"
check "TCP answered after the drop" "192.0.2.10" "$(dig_short +tcp www.$ZONE A)"

TOKEN="reloaded-$RANDOM$RANDOM"
write_zone 2024010102
readable
kill -HUP "$pid"
check "SIGHUP as nobody: the changed zone is served" "$TOKEN" "$(wait_token "$TOKEN")"
check_grep "reload logged" "reloaded generation 2" "$(cat "$SERVER_LOG")"

# A reload that changes user: applied settings stay, a restart is needed.
write_config "user: root"
readable
kill -HUP "$pid"
for i in $(seq 1 50); do
	grep -q "reloaded generation 3" "$SERVER_LOG" && break
	sleep 0.1
done
check_grep "user change needs a restart" \
	"$CONF:[0-9]+: user changed; it takes effect after a restart" \
	"$(cat "$SERVER_LOG")"
check "still nobody after that reload" \
	"$NOBODY_UID $NOBODY_UID $NOBODY_UID $NOBODY_UID" "$(ids Uid "$pid")"
check "still serving" "192.0.2.10" "$(dig_short www.$ZONE A)"
stop_server TERM
check "SIGTERM exit status as nobody" 0 "$SERVER_STATUS"

# --- root without user: serves, with a warning
write_config
start_server
check_grep "root without user: warns" \
	'running as root: set `user:` to drop privileges' "$(cat "$SERVER_LOG")"
check "root without user: serves" "192.0.2.10" "$(dig_short www.$ZONE A)"
stop_server TERM

# --- user: root is refused at start-up (it would drop nothing)
write_config "user: root"
line=$(grep -n '^user:' "$CONF" | cut -d: -f1)
out=$(timeout 10 "$GEOVIPD" -c "$CONF" 2>&1)
rc=$?
check "user: root exits 1" 1 "$rc"
check_grep "user: root names FILE:LINE" "^geovipd: $CONF:$line: .*uid 0" "$out"

# --- an unknown user: --check names FILE:LINE
write_config "user: geovip-no-such-user-$$"
line=$(grep -n '^user:' "$CONF" | cut -d: -f1)
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
rc=$?
check "--check with an unknown user exits 1" 1 "$rc"
check_grep "--check: unknown user at FILE:LINE" \
	"^$CONF:$line: user 'geovip-no-such-user-$$' does not exist" "$out"

# --- --check opens the files as user: (a reload reads them as that user)
write_config "user: nobody"
readable
chmod 600 "$ZONE_FILE"
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
rc=$?
check "--check with a zone nobody cannot read: a warning, exit 0" 0 "$rc"
check_grep "--check names the file nobody cannot read" \
	"^$CONF:[0-9]+: warning: user 'nobody' cannot read $ZONE_FILE" "$out"
readable
out=$("$GEOVIPD" -c "$CONF" --check 2>&1)
check_nogrep "--check: readable files, no warning" "cannot read" "$out"

# --- started as nobody (setpriv): another user is an error, nobody is fine
if command -v setpriv >/dev/null 2>&1; then
	if id daemon >/dev/null 2>&1; then
		write_config "user: daemon"
		readable
		out=$(timeout 10 setpriv --reuid="$NOBODY_UID" \
			--regid="$NOBODY_GID" --clear-groups \
			"$REAL_GEOVIPD" -c "$CONF" 2>&1)
		rc=$?
		check "non-root start with another user exits 1" 1 "$rc"
		check_grep "non-root start: says why" \
			"user 'daemon': running as uid $NOBODY_UID, not root" "$out"
	fi
	write_config "user: nobody"
	readable
	cat > "$TEST_TMP/as-nobody" <<EOF
#!/bin/sh
exec setpriv --reuid=$NOBODY_UID --regid=$NOBODY_GID --clear-groups "$REAL_GEOVIPD" "\$@"
EOF
	chmod 755 "$TEST_TMP/as-nobody"
	GEOVIPD="$TEST_TMP/as-nobody"
	start_server
	check "started as nobody with user: nobody serves" "192.0.2.10" \
		"$(dig_short www.$ZONE A)"
	stop_server TERM
	check "exit status" 0 "$SERVER_STATUS"
	GEOVIPD=$REAL_GEOVIPD
else
	echo "skip - setpriv not found: non-root start not tested"
fi

finish
