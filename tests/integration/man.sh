#!/bin/bash
# tests/integration/man.sh — the installed documentation: the three man
# pages render without a single groff warning, document every config key
# that src/config.c accepts and every long option of geovipd and geovipctl
# (and geovipctl's commands), and the unit file
# carries the directives the README promises.
. "$(dirname "$0")/lib.sh"
require groff man

for page in doc/geovipd.8 doc/geovipctl.8 doc/geovip.yaml.5; do
	f="$top_builddir/$page"
	[ -f "$f" ] || { fail "$page not built"; continue; }
	warn=$(groff -ww -man -z "$f" 2>&1)
	check "$page: groff -ww reports nothing" "" "$warn"
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)
	check "$page: man --warnings reports nothing" "" "$warn"
	check_nogrep "$page: every @path@ substituted" "@[a-z]+@" "$(cat "$f")"
done

text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$top_builddir/doc/geovip.yaml.5" 2>/dev/null)
check_grep "geovip.yaml(5) renders" "^GEOVIP.YAML\(5\)" "$text"
# every key of every mapping in the config schema has a paragraph
keys=$(sed -n 's/.*CFG_\(KEY\|UINT\)("\([a-z_0-9]*\)".*/\2/p' \
	"$top_srcdir/src/config.c" | sort -u)
[ -n "$keys" ] || fail "no keys found in src/config.c"
for k in $keys; do
	check_grep "geovip.yaml(5) documents '$k'" "^ {7,}$k( |$)" "$text"
done

text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$top_builddir/doc/geovipd.8" 2>/dev/null)
check_grep "geovipd(8) renders" "^GEOVIPD\(8\)" "$text"
opts=$(sed -n 's/^[[:space:]]*{ *"\([a-z-]*\)", [a-z_]*argument.*/\1/p' \
	"$top_srcdir/src/main.c")
[ -n "$opts" ] || fail "no options found in src/main.c"
for o in $opts; do
	check_grep "geovipd(8) documents --$o" "^ {7}.*--$o" "$text"
done
for s in SIGHUP SIGTERM NOTIFY_SOCKET JOURNAL_STREAM; do
	check_grep "geovipd(8) documents $s" "$s" "$text"
done

text=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l "$top_builddir/doc/geovipctl.8" 2>/dev/null)
check_grep "geovipctl(8) renders" "^GEOVIPCTL\(8\)" "$text"
opts=$(sed -n 's/^[[:space:]]*{ *"\([a-z-]*\)", [a-z_]*argument.*/\1/p' \
	"$top_srcdir/src/geovipctl.c")
[ -n "$opts" ] || fail "no options found in src/geovipctl.c"
for o in $opts; do
	check_grep "geovipctl(8) documents --$o" "^ {7}.*--$o" "$text"
done
for c in status reload shed drain health undo overrides lookup; do
	check_grep "geovipctl(8) documents the command $c" "^ {7}$c( |$)" "$text"
done

unit="$top_builddir/contrib/geovipd.service"
for d in Type=notify 'ExecReload=/bin/kill -HUP \$MAINPID' \
	AmbientCapabilities=CAP_NET_BIND_SERVICE \
	CapabilityBoundingSet=CAP_NET_BIND_SERVICE NoNewPrivileges=yes \
	ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
	'RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX' \
	MemoryDenyWriteExecute=yes SystemCallFilter=@system-service \
	LimitNOFILE=; do
	check_grep "unit file: $d" "^$d" "$(cat "$unit")"
done
check_nogrep "unit file: every @path@ substituted" "@[a-z]+@" "$(cat "$unit")"
if command -v systemd-analyze >/dev/null 2>&1; then
	# only the binary and man pages are missing before installation
	out=$(systemd-analyze verify "$unit" 2>&1 |
		grep -v -e 'is not executable' -e "Command 'man " || true)
	check "unit file: systemd-analyze verify finds nothing else" "" "$out"
fi
finish
