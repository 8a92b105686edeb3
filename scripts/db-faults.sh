#!/usr/bin/env bash
# Usage: scripts/db-faults.sh [--quick]
#
# Database faults under load (docs/reliability.md): starts two throwaway PostgreSQL clusters of its
# own (never a shared server), runs portcullis on them under a mixed load, stops each cluster hard
# (`pg_ctl -m immediate`) and restarts it, and checks that portcullis stays up, fails promptly,
# recovers within 5 s and loses nothing it acknowledged. The driver is tests/faults/db-faults.js.
#
# --quick: shorter phases (CI). Timings and bounds can be set with FAULT_* variables (see the
# driver's header): FAULT_WARM_S, FAULT_OUTAGE_S, FAULT_AFTER_S, FAULT_WORKERS, FAULT_DB_TIMEOUT_MS,
# FAULT_MAX_LATENCY_MS, FAULT_RECOVERY_MS. PORTCULLIS_BIN picks the binary (default: a debug build).
#
# Works from a clean Debian machine as root: installs PostgreSQL and Node.js from Debian's packages
# when missing; PostgreSQL then runs as user `postgres`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--quick" ]; then
  export FAULT_WARM_S=${FAULT_WARM_S:-2} FAULT_OUTAGE_S=${FAULT_OUTAGE_S:-3} FAULT_AFTER_S=${FAULT_AFTER_S:-6} FAULT_WORKERS=${FAULT_WORKERS:-2}
elif [ $# -gt 0 ]; then
  echo "usage: $0 [--quick]" >&2
  exit 2
fi

apt_install() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "db-faults: missing $* (install it and retry)" >&2
    exit 1
  fi
}

find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/psql" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

command -v node >/dev/null 2>&1 || apt_install nodejs
bindir=$(find_bindir) || { apt_install postgresql; bindir=$(find_bindir); }

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  export PG_AS_POSTGRES=1
fi

if [ -z "${PORTCULLIS_BIN:-}" ]; then
  cargo build --locked -q -p portcullis
  PORTCULLIS_BIN="${CARGO_TARGET_DIR:-$(pwd)/target}/debug/portcullis"
fi
export PORTCULLIS_BIN PG_BINDIR="$bindir"
exec node tests/faults/db-faults.js
