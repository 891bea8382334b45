#!/bin/sh
# example.sh — builds geovip, starts it on the shipped example config
# (zones/geovip.yaml, sample geo database, port 5300 on 127.0.0.1 and ::1)
# and asks it for www.example.com from three "continents" of loopback.
# The server keeps running; stop it with the kill command printed at the end.
set -eu
cd "$(dirname "$0")"
./build.sh

log=$(mktemp /tmp/geovipd.XXXXXX.log)
src/geovipd -c zones/geovip.yaml </dev/null >"$log" 2>&1 &
pid=$!
i=0
until grep -q "serving on" "$log"; do
  i=$((i + 1))
  if [ "$i" -gt 50 ] || ! kill -0 "$pid" 2>/dev/null; then
    cat "$log" >&2
    exit 1
  fi
  sleep 0.1
done

ask() {
  printf '%-28s ' "$1"
  shift
  dig @127.0.0.1 -p 5300 +short "$@" | tr '\n' ' '
  echo
}
echo
ask "from 127.0.0.1 (NA):"          www.example.com A
ask "from 127.0.1.1 (EU):"          -b 127.0.1.1 www.example.com A
ask "from 127.0.2.1 (AS):"          -b 127.0.2.1 www.example.com A
ask "ECS 203.0.113.0/24 (OC):"      +subnet=203.0.113.0/24 www.example.com A
ask "api from 127.0.0.1 (NA):"      api.example.com A
ask "api from 127.0.2.1 (AS):"      -b 127.0.2.1 api.example.com A
echo
echo "geovipd is running (pid $pid, log $log). Try:"
echo "  dig @127.0.0.1 -p 5300 -b 127.0.1.1 www.example.com AAAA"
echo "  src/geovipd -c zones/geovip.yaml --lookup 198.51.100.7/24"
echo "  src/geovipd -c zones/geovip.yaml --lookup 127.0.2.1 --name api"
echo "Stop it with: kill $pid"
