#!/usr/bin/env bash
# Usage: scripts/pg-production.sh [--only tls,pgbouncer,failover,rust] [-- CMD [ARGS...]]
#
# PostgreSQL as production runs it (docs/deployment.md, "PostgreSQL in production"), on throwaway
# servers of its own:
#   T  a TLS-only cluster (`hostssl` lines only; a CA, a server and a client certificate made here
#      with openssl, and a second CA that signed nothing of it);
#   B  PgBouncer from Debian's package, pool_mode = transaction, in front of T (over its socket);
#   P  a primary with synchronous replication to
#   S  a streaming standby made with `pg_basebackup -R`;
#   W  a primary whose synchronous standby never comes (commits wait until cancelled).
# Then, each step with a time limit:
#   rust      the integration tests that need these servers (crates/store-postgres/tests/production.rs,
#             the pooler tests of crates/store-postgres/src/db.rs, crates/server/tests/it/pg_production.rs);
#   tls       SDK flows (supertokens-node, supertokens-python: sign-up, sign-in, sessions) on T with
#             sslmode=verify-full and SCRAM over TLS;
#   pgbouncer the same flows through B in transaction mode;
#   failover  tests/faults/failover.js: load on a multi-host URI, P stopped hard, S promoted; every
#             acknowledged write must be on S and service back within 10 s; then the SDK flows on
#             the promoted S through the same URI.
# With `-- CMD`, the servers are started, CMD runs with the PORTCULLIS_TEST_* variables below, and
# everything is stopped (for working on the tests).
#
# Works from a clean Debian machine as root: installs PostgreSQL, PgBouncer, openssl and Node.js
# from Debian's packages when missing; the servers then run as user `postgres`. Ports are taken
# from PGPROD_PORTS (default 26000-26999). PORTCULLIS_BIN picks the binary (default: a debug build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

only="rust,tls,pgbouncer,failover"
cmd=()
while [ $# -gt 0 ]; do
  case "$1" in
    --only) only=$2; shift 2 ;;
    --) shift; cmd=("$@"); break ;;
    *) echo "usage: $0 [--only tls,pgbouncer,failover,rust] [-- CMD [ARGS...]]" >&2; exit 2 ;;
  esac
done
wants() { [[ ",$only," == *",$1,"* ]]; }

log() { echo "pg-production: $*" >&2; }
need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [ "$(id -u)" = 0 ] && need apt-get; then
    log "installing $* from Debian's packages"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    log "missing: $* (install it and retry)"
    exit 1
  fi
}
find_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r); do
    if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && [ -x "$d/pg_basebackup" ] && [ -x "$d/psql" ]; then
      echo "$d"
      return 0
    fi
  done
  return 1
}

need openssl || apt_install openssl
need node || apt_install nodejs npm
bindir=$(find_bindir) || { apt_install postgresql; bindir=$(find_bindir); }
pgbouncer=$(command -v pgbouncer || true)
[ -n "$pgbouncer" ] || [ -x /usr/sbin/pgbouncer ] || apt_install pgbouncer
pgbouncer=$(command -v pgbouncer || echo /usr/sbin/pgbouncer)
# Debian's package enables a system service; this script runs its own instance only.

as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin postgres
  as_pg=(runuser -u postgres --)
fi
pg() { ${as_pg[@]+"${as_pg[@]}"} "$@"; }

if [ -z "${PORTCULLIS_BIN:-}" ]; then
  cargo build --locked -q -p portcullis
  PORTCULLIS_BIN="${CARGO_TARGET_DIR:-$root/target}/debug/portcullis"
fi
export PORTCULLIS_BIN

# ---- ports -----------------------------------------------------------------------------------
# Below the kernel's ephemeral range (32768+ here), which outgoing connections may hold unseen:
# a connect probe cannot tell such a port is taken, and the postmaster then fails to bind.
range=${PGPROD_PORTS:-26000-26999}
port_lo=${range%-*}
port_hi=${range#*-}
taken=" "
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 200); do
    p=$((port_lo + RANDOM % (port_hi - port_lo + 1)))
    if [[ "$taken" != *" $p "* ]] && ! port_in_use "$p"; then
      taken="$taken$p "
      echo "$p"
      return 0
    fi
  done
  log "no free port in $range"
  return 1
}

# ---- clean-up --------------------------------------------------------------------------------
tmp=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-pgprod.XXXXXX")
chmod 755 "$tmp"
started=()
bouncer_pid=""
cleanup() {
  local code=$?
  if [ -n "$bouncer_pid" ]; then
    kill "$bouncer_pid" 2>/dev/null || true
    wait "$bouncer_pid" 2>/dev/null || true
  fi
  local d
  for d in ${started[@]+"${started[@]}"}; do
    pg "$bindir/pg_ctl" -D "$d" -m immediate -w stop >/dev/null 2>&1 || true
  done
  if [ "$code" -ne 0 ]; then
    for f in "$tmp"/*.log; do
      [ -f "$f" ] || continue
      echo "---- $(basename "$f") (last 30 lines)" >&2
      tail -n 30 "$f" >&2 || true
    done
  fi
  rm -rf "$tmp"
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- certificates ----------------------------------------------------------------------------
certs="$tmp/certs"
mkdir -p "$certs"
(
  cd "$certs"
  ca() { # name subject
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  }
  leaf() { # name subject extensions
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$1.key" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$3" >"$1.ext"
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
  }
  ca ca "Portcullis test CA"
  ca wrong-ca "Some other CA"
  # The server's certificate names localhost only: connecting to 127.0.0.1 fails verify-full.
  leaf server localhost "$(printf 'subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth')"
  leaf client certuser "$(printf 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth')"
  chmod 600 ./*.key
)
[ "$(id -u)" -eq 0 ] && chown -R postgres: "$tmp"
# Portcullis (this user) reads the CA and the client key; the server (postgres) its own files.
chmod 644 "$certs/client.key"

# ---- clusters --------------------------------------------------------------------------------
mkdir -p "$tmp/sock"
[ "$(id -u)" -eq 0 ] && chown postgres: "$tmp/sock"
new_cluster() { # dir
  pg "$bindir/initdb" -D "$1" -U postgres -A trust -E UTF8 --locale=C --no-sync >"$tmp/initdb.log" 2>&1 \
    || { cat "$tmp/initdb.log" >&2; log "initdb failed"; exit 1; }
}
start_cluster() { # name dir port extra-options
  local name=$1 dir=$2 port=$3
  shift 3
  pg "$bindir/pg_ctl" -D "$dir" -l "$tmp/$name.log" -w -t 60 \
    -o "-p $port -k $tmp/sock -c listen_addresses=127.0.0.1 -c max_connections=200 -c fsync=off -c full_page_writes=off $*" \
    start >/dev/null
  started+=("$dir")
}
psql_at() { # port sql
  pg "$bindir/psql" -h "$tmp/sock" -p "$1" -U postgres -d postgres -X -A -t -q -v ON_ERROR_STOP=1 -c "$2"
}

tls_port=$(free_port)
new_cluster "$tmp/tls"
cat >"$tmp/tls/pg_hba.conf" <<EOF
# TLS only: no host or hostnossl line. The socket is for the tests' own checks.
local all all trust
hostssl all certuser 127.0.0.1/32 cert
hostssl all app 127.0.0.1/32 scram-sha-256
hostssl all all 127.0.0.1/32 trust
EOF
start_cluster tls "$tmp/tls" "$tls_port" \
  "-c ssl=on -c ssl_cert_file=$certs/server.pem -c ssl_key_file=$certs/server.key -c ssl_ca_file=$certs/ca.pem"
psql_at "$tls_port" "CREATE ROLE app LOGIN PASSWORD 'app-secret-pw' CREATEDB; CREATE ROLE certuser LOGIN; GRANT CREATE ON DATABASE postgres TO app, certuser;"
log "T: TLS-only PostgreSQL on 127.0.0.1:$tls_port (CA $certs/ca.pem)"

bouncer_port=$(free_port)
cat >"$tmp/pgbouncer.ini" <<EOF
[databases]
* = host=$tmp/sock port=$tls_port
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $tmp/userlist.txt
pool_mode = transaction
; few server connections for many clients: consecutive statements of one client do land on
; different server connections
default_pool_size = 4
max_client_conn = 400
logfile = $tmp/pgbouncer.log
pidfile = $tmp/pgbouncer.pid
EOF
printf '"postgres" ""\n"app" ""\n' >"$tmp/userlist.txt"
if [ "$(id -u)" -eq 0 ]; then
  # Started by root, PgBouncer switches to this user itself (and stays our child, to be reaped).
  echo "user = postgres" >>"$tmp/pgbouncer.ini"
  chown postgres: "$tmp/pgbouncer.ini" "$tmp/userlist.txt"
fi
"$pgbouncer" -q "$tmp/pgbouncer.ini" >/dev/null 2>&1 &
bouncer_pid=$!
for _ in $(seq 50); do port_in_use "$bouncer_port" && break; sleep 0.1; done
port_in_use "$bouncer_port" || { log "PgBouncer did not start"; exit 1; }
log "B: $("$pgbouncer" --version | head -1), pool_mode = transaction, on 127.0.0.1:$bouncer_port"

primary_port=$(free_port)
standby_port=$(free_port)
new_cluster "$tmp/primary"
start_cluster primary "$tmp/primary" "$primary_port" "-c wal_level=replica -c max_wal_senders=5"
pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres -D "$tmp/standby" -R -X stream -c fast >"$tmp/basebackup.log" 2>&1 \
  || { cat "$tmp/basebackup.log" >&2; log "pg_basebackup failed"; exit 1; }
start_cluster standby "$tmp/standby" "$standby_port" "-c hot_standby=on"
# Synchronous from now on (after the base backup, so that the standby does not inherit it and
# can commit alone once promoted).
psql_at "$primary_port" "ALTER SYSTEM SET synchronous_standby_names = '*'"
psql_at "$primary_port" "SELECT pg_reload_conf()" >/dev/null
for _ in $(seq 100); do
  [ "$(psql_at "$primary_port" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] && break
  sleep 0.1
done
[ "$(psql_at "$primary_port" "SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'")" = 1 ] \
  || { log "the standby did not become synchronous"; exit 1; }
log "P: primary on 127.0.0.1:$primary_port, S: synchronous streaming standby on 127.0.0.1:$standby_port"

# W: commits that write WAL wait for a synchronous standby that never comes (statement_timeout does
# not end that wait; a cancel does, leaving the commit local with a WARNING): Portcullis must
# acknowledge none of them.
waiting_port=$(free_port)
new_cluster "$tmp/waiting"
start_cluster waiting "$tmp/waiting" "$waiting_port" "-c synchronous_standby_names=ghost"
log "W: primary waiting for a synchronous standby that never comes, on 127.0.0.1:$waiting_port"

export PG_BINDIR="$bindir" PG_SOCKET_DIR="$tmp/sock" PG_AS_POSTGRES=$([ "$(id -u)" -eq 0 ] && echo 1 || echo 0)
export PORTCULLIS_TEST_TLS_PORT="$tls_port" PORTCULLIS_TEST_TLS_CERTS="$certs"
export PORTCULLIS_TEST_PGBOUNCER_URI="postgresql://postgres@127.0.0.1:$bouncer_port/postgres"
export PORTCULLIS_TEST_NO_STANDBY_URI="postgresql://postgres@127.0.0.1:$waiting_port/postgres"
export PORTCULLIS_TEST_PRIMARY_PORT="$primary_port" PORTCULLIS_TEST_STANDBY_PORT="$standby_port" PORTCULLIS_TEST_PRIMARY_DATA="$tmp/primary" PORTCULLIS_TEST_STANDBY_DATA="$tmp/standby"
# The plain server for everything else (the base database of tenants kept elsewhere, TLS refused).
export PORTCULLIS_TEST_PG_URI="postgresql://postgres@127.0.0.1:$primary_port/postgres"

if [ ${#cmd[@]} -gt 0 ]; then
  "${cmd[@]}"
  exit $?
fi

step() {
  local name=$1 limit=$2
  shift 2
  log "== $name [limit $limit]"
  local rc=0
  timeout -k 10 "$limit" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -ne 124 ] || log "step '$name' did not finish within $limit"
    log "step '$name' failed (exit $rc)"
    return "$rc"
  fi
}

if wants rust; then
  step "rust: TLS, PgBouncer and standby tests" 10m \
    cargo test --locked -q -p portcullis-store-postgres --test production --lib -- --test-threads 4
  step "rust: tenants on a TLS database, start-up errors" 10m \
    cargo test --locked -q -p portcullis --test it pg_production::
fi

# A small SDK subset per deployment: sign-up, sign-in, session create/verify/refresh/revoke.
sdk_flows() { # label uri
  local venv="$root/tests/sdk/python/.venv"
  [ -d tests/sdk/node/node_modules ] || npm ci --prefix tests/sdk/node --no-audit --no-fund --loglevel=error
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/sdk/python/requirements.txt
  fi
  step "supertokens-node on $1" 5m env -C tests/sdk/node PORTCULLIS_BACKEND=postgres PORTCULLIS_TEST_PG_URI="$2" \
    node --test --test-concurrency=1 --test-timeout=120000 test/emailpassword-users.test.js test/session.test.js
  step "supertokens-python on $1" 5m env -C tests/sdk/python PORTCULLIS_BACKEND=postgres PORTCULLIS_TEST_PG_URI="$2" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider test_emailpassword_users.py test_session.py
}

if wants tls; then
  sdk_flows "TLS (verify-full, SCRAM)" \
    "postgresql://app:app-secret-pw@localhost:$tls_port/postgres?sslmode=verify-full&sslrootcert=$certs/ca.pem"
fi
if wants pgbouncer; then
  sdk_flows "PgBouncer (transaction pooling)" "$PORTCULLIS_TEST_PGBOUNCER_URI?prepareThreshold=0"
fi
if wants failover; then
  multi="postgresql://postgres@127.0.0.1:$standby_port,127.0.0.1:$primary_port/postgres?target_session_attrs=read-write"
  sdk_flows "primary and standby (multi-host URI)" "$multi"
  step "failover under load" 5m node tests/faults/failover.js
  sdk_flows "the promoted standby (same URI)" "$multi"
fi
log "all passed"
