#!/usr/bin/env bash
# Usage: scripts/with-postgres.sh CMD [ARGS...]
#
# Runs CMD with PORTCULLIS_TEST_PG_URI pointing at a throwaway PostgreSQL cluster: initdb in a temp
# dir (trust auth), started on a free port of 127.0.0.1, stopped and removed when CMD ends; exits with
# CMD's code. If PORTCULLIS_TEST_PG_URI is already set, CMD just runs against that server.
#
# Works from a clean Debian machine as root: installs the PostgreSQL server from Debian's packages if
# no initdb is found, and runs the server as user `postgres` (PostgreSQL refuses to run as root).
set -euo pipefail

if [ $# -eq 0 ]; then
  echo "usage: $0 CMD [ARGS...]" >&2
  exit 2
fi
if [ -n "${PORTCULLIS_TEST_PG_URI:-}" ]; then
  exec "$@"
fi

log() { echo "with-postgres: $*" >&2; }

# The newest server binaries: pg_config's bindir when it has initdb (pg_config alone may come from
# libpq-dev, without a server), else Debian's versioned directories.
find_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir 2>/dev/null || true)
    if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

if ! bindir=$(find_bindir); then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "no PostgreSQL server binaries found (initdb); install PostgreSQL and retry"
    exit 1
  fi
  log "installing PostgreSQL from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
  bindir=$(find_bindir) || { log "PostgreSQL was installed but initdb was not found"; exit 1; }
fi

# As root, the cluster belongs to `postgres`; otherwise to whoever runs this.
as_owner=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  fi
  as_owner=(runuser -u postgres --)
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-pg.XXXXXX")
chmod 755 "$tmp"
data="$tmp/data"
sock="$tmp/sock"
mkdir -p "$sock"
if [ "$(id -u)" -eq 0 ]; then
  chown -R postgres: "$tmp"
fi

started=0
cleanup() {
  local code=$?
  if [ "$started" = 1 ]; then
    ${as_owner[@]+"${as_owner[@]}"} "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
  fi
  rm -rf "$tmp"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

${as_owner[@]+"${as_owner[@]}"} "$bindir/initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 \
  || { cat "$tmp/initdb.log" >&2; log "initdb failed"; exit 1; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Another process may take the port between the check and the start: try a few.
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 40000))
  port_in_use "$port" && continue
  # Durability is not wanted for throwaway data; enough connections for parallel tests and servers.
  if ${as_owner[@]+"${as_owner[@]}"} "$bindir/pg_ctl" -D "$data" -l "$tmp/server.log" -w -t 60 \
      -o "-p $port -k $sock -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
      start >/dev/null; then
    started=1
    break
  fi
done
if [ "$started" != 1 ]; then
  cat "$tmp/server.log" >&2 2>/dev/null || true
  log "could not start PostgreSQL"
  exit 1
fi

export PORTCULLIS_TEST_PG_URI="postgresql://postgres@127.0.0.1:$port/postgres"
log "PostgreSQL $("$bindir/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"

set +e
"$@"
code=$?
set -e
exit "$code"
