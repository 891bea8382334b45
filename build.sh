#!/bin/sh
# build.sh — installs the build dependencies (Debian 12, apt) if missing,
# then configures and builds geovip in this directory. Extra arguments go
# to ./configure (e.g. --enable-sanitizers).
set -eu
cd "$(dirname "$0")"
.ci/install-deps
[ -x configure ] || autoreconf -fi
[ -f Makefile ] || ./configure -q "$@"
make -j"$(nproc)"
