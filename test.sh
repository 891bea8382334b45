#!/bin/sh
# test.sh — builds geovip and runs every test (`make check`: unit tests,
# integration tests against the real server, fuzz corpus replays), then
# prints "N passed, M failed". Extra arguments go to ./configure.
set -u
cd "$(dirname "$0")"
./build.sh "$@" || { echo "0 passed, 1 failed"; exit 1; }
make -j"$(nproc)" check >/dev/null 2>&1
status=$?
count() {
  n=$(sed -n "s/^# $1: *//p" test-suite.log 2>/dev/null | head -1)
  echo "${n:-0}"
}
passed=$(count PASS)
failed=$(( $(count FAIL) + $(count ERROR) + $(count XPASS) ))
if [ "$failed" -gt 0 ] || [ "$status" -ne 0 ]; then
  for f in $(grep -lE '^:test-result: (FAIL|ERROR)' tests/*/*.trs 2>/dev/null); do
    echo "---- ${f%.trs}.log"; tail -40 "${f%.trs}.log"
  done
fi
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
