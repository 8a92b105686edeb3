#!/usr/bin/env bash
# Usage: scripts/cluster.sh [--nodes N] [--test-mode] [-- CMD [ARGS...]]
#
# Starts N (default 3) Portcullis processes on one PostgreSQL database behind nginx (round-robin,
# keep-alive to the upstreams) and prints the balancer's URL. Without CMD it waits until
# interrupted; with CMD it runs CMD and exits with its code. Everything it started is stopped
# on exit.
#
# PostgreSQL: PORTCULLIS_TEST_PG_URI when set, else a throwaway cluster (scripts/with-postgres.sh).
# The nodes share a fresh schema (POSTGRESQL_TABLE_SCHEMA, cluster_<random>), start at the same
# moment (so they race to create it, as replicas of a deployment do) and get the caller's
# environment, so any config variable (PORTCULLIS_TENANT_SYNC_INTERVAL_SEC, API_KEYS, ...) applies
# to all of them. --test-mode passes --test-mode to each (as the SDK suites' own servers use).
#
# CMD runs in the repository's root and sees:
#   PORTCULLIS_URL          the balancer, http://127.0.0.1:<port>
#   PORTCULLIS_NODE_URLS    the nodes, space-separated, in upstream order
#   PORTCULLIS_NODE_PIDS    their pids, same order
#   PORTCULLIS_CLUSTER_DIR  the run's directory: node-<i>.log, nginx.conf, nginx-error.log
#   PORTCULLIS_CLUSTER_STARTED_MS  when the nodes were started (ms since the epoch)
#   PORTCULLIS_TEST_PG_URI and POSTGRESQL_TABLE_SCHEMA   the database the nodes use
#
# Needs nginx (Debian's package `nginx`, installed with apt-get when missing and running as root;
# psql likewise, from postgresql-client, for the tests that look into the databases).
# nginx runs from its own config in the run's directory with its own pid and log files, in the
# foreground, as user nobody when started as root.
# Set PORTCULLIS_CLUSTER_KEEP=1 to keep the run's directory (logs) afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

nodes=3
test_mode=()
while [ $# -gt 0 ]; do
  case "$1" in
    --nodes) nodes=$2; shift 2 ;;
    --test-mode) test_mode=(--test-mode); shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "cluster: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
case "$nodes" in ''|*[!0-9]*) echo "cluster: --nodes takes a number" >&2; exit 2 ;; esac
[ "$nodes" -ge 1 ] || { echo "cluster: --nodes must be at least 1" >&2; exit 2; }

if [ -z "${PORTCULLIS_TEST_PG_URI:-}" ]; then
  exec scripts/with-postgres.sh "$0" --nodes "$nodes" ${test_mode[@]+"${test_mode[@]}"} -- "$@"
fi

log() { echo "cluster: $*" >&2; }

bin=${PORTCULLIS_BIN:-$root/target/debug/portcullis}
[ -x "$bin" ] || { log "no portcullis binary at $bin (build it or set PORTCULLIS_BIN)"; exit 1; }

if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "nginx is missing; install Debian's package nginx and retry"
    exit 1
  fi
  log "installing nginx from Debian's packages"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
nginx_bin=$(command -v nginx || echo /usr/sbin/nginx)
# psql, for the tests that look into the databases.
if ! command -v psql >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client >/dev/null
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/portcullis-cluster.XXXXXX")
chmod 755 "$dir"
pids=()
nginx_pid=
cleanup() {
  local code=$?
  trap - EXIT
  [ -n "$nginx_pid" ] && kill -TERM "$nginx_pid" 2>/dev/null || true
  for p in ${pids[@]+"${pids[@]}"}; do kill -TERM "$p" 2>/dev/null || true; done
  for p in ${pids[@]+"${pids[@]}"} $nginx_pid; do
    # Graceful stop first; a process still there after 10 s is killed.
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  if [ "$code" -ne 0 ] && [ -z "${PORTCULLIS_CLUSTER_KEEP:-}" ]; then
    for f in "$dir"/node-*.log "$dir"/nginx-error.log; do
      [ -s "$f" ] && { echo "---- tail of $f" >&2; tail -n 40 "$f" >&2; }
    done
  fi
  if [ -n "${PORTCULLIS_CLUSTER_KEEP:-}" ]; then log "kept $dir"; else rm -rf "$dir"; fi
  exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# Ports below the kernel's ephemeral range, which outgoing connections never hold.
ephemeral_low=$(awk '{print $1}' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral_low" -gt 12000 ] || ephemeral_low=32768
declare -A taken=()
# Sets REPLY (not echoed: a subshell would forget which ports it handed out).
free_port() {
  local p
  while :; do
    p=$((10000 + RANDOM % (ephemeral_low - 10000)))
    [ -z "${taken[$p]:-}" ] && ! port_in_use "$p" && { taken[$p]=1; REPLY=$p; return; }
  done
}

schema="cluster_$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')"
export POSTGRESQL_CONNECTION_URI=$PORTCULLIS_TEST_PG_URI POSTGRESQL_TABLE_SCHEMA=$schema
unset PORTCULLIS_SQLITE_PATH

started_ms=$(date +%s%3N)
urls=()
ports=()
for i in $(seq 1 "$nodes"); do
  free_port
  port=$REPLY
  ports+=("$port")
  urls+=("http://127.0.0.1:$port")
  "$bin" start --host 127.0.0.1 --port "$port" ${test_mode[@]+"${test_mode[@]}"} >"$dir/node-$i.log" 2>&1 &
  pids+=("$!")
done

# The status code of a GET (bash's /dev/tcp: no curl needed), empty when nothing answers.
http_status() {
  local rest=${1#http://} line
  local hostport=${rest%%/*} path=/${rest#*/}
  { exec 3<>"/dev/tcp/${hostport%:*}/${hostport#*:}"; } 2>/dev/null || return 0
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$path" "$hostport" >&3
  read -r -t 5 line <&3 || true
  exec 3<&-
  line=${line#HTTP/* }
  echo "${line%% *}"
}
wait_hello() {
  local url=$1 pid=$2
  for _ in $(seq 300); do
    kill -0 "$pid" 2>/dev/null || return 1
    [ "$(http_status "$url/hello")" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}
for i in $(seq 0 $((nodes - 1))); do
  wait_hello "${urls[$i]}" "${pids[$i]}" || { log "node $((i + 1)) (${urls[$i]}) did not come up"; exit 1; }
done

free_port
lb_port=$REPLY
mkdir -p "$dir/tmp"
{
  echo "worker_processes 1;"
  echo "pid $dir/nginx.pid;"
  echo "error_log $dir/nginx-error.log warn;"
  echo "events { worker_connections 1024; }"
  echo "http {"
  echo "  access_log off;"
  for t in client_body proxy fastcgi uwsgi scgi; do echo "  ${t}_temp_path $dir/tmp/$t;"; done
  echo "  upstream portcullis {"
  # max_fails=0: a node's slow answer never takes it out of the rotation during the tests.
  for p in "${ports[@]}"; do echo "    server 127.0.0.1:$p max_fails=0;"; done
  echo "    keepalive 32;"
  echo "  }"
  echo "  server {"
  echo "    listen 127.0.0.1:$lb_port;"
  echo "    client_max_body_size 20m;"
  echo "    location / {"
  echo "      proxy_pass http://portcullis;"
  echo "      proxy_http_version 1.1;"
  echo "      proxy_set_header Connection \"\";"
  echo "      proxy_set_header Host \$host;"
  echo "      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;"
  echo "      proxy_read_timeout 70s;"
  echo "    }"
  echo "  }"
  echo "}"
} >"$dir/nginx.conf"

as_nobody=()
if [ "$(id -u)" -eq 0 ]; then
  chown -R nobody: "$dir/tmp"
  touch "$dir/nginx-error.log" "$dir/nginx.pid"
  chown nobody: "$dir/nginx-error.log" "$dir/nginx.pid" "$dir"
  as_nobody=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
fi
${as_nobody[@]+"${as_nobody[@]}"} "$nginx_bin" -e "$dir/nginx-error.log" -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' &
nginx_pid=$!
lb="http://127.0.0.1:$lb_port"
wait_hello "$lb" "$nginx_pid" || { log "nginx did not come up on $lb"; exit 1; }

export PORTCULLIS_URL=$lb PORTCULLIS_NODE_URLS="${urls[*]}" PORTCULLIS_NODE_PIDS="${pids[*]}" PORTCULLIS_CLUSTER_DIR=$dir \
  PORTCULLIS_CLUSTER_STARTED_MS=$started_ms
log "$nodes nodes (${urls[*]}) on schema $schema; balancer:"
echo "$lb"

if [ $# -eq 0 ]; then
  log "running until interrupted (Ctrl-C)"
  while :; do
    for p in "${pids[@]}" "$nginx_pid"; do
      kill -0 "$p" 2>/dev/null || { log "process $p exited"; exit 1; }
    done
    sleep 1
  done
fi

set +e
"$@"
code=$?
set -e
exit "$code"
