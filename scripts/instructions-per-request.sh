#!/usr/bin/env bash
# Instructions per request of one path, counted exactly with callgrind (load-independent,
# unlike requests per second on a shared machine). Compares binaries of two commits:
#   scripts/instructions-per-request.sh <portcullis binary> <path> [requests] [body | @setup-script]
# e.g. scripts/instructions-per-request.sh target/release/portcullis /hello 2000
# With a fourth argument the requests are POSTs of that JSON body; `@script` runs the script once the
# server is up (with PORT set, before warm-up and counting) and POSTs what it prints, for bodies
# that need state (a client, a token): see scripts/oauth-introspect-body.sh.
# The server runs on a fresh SQLite file under valgrind with instrumentation off; after 50 warm-up
# requests counting is switched on, <requests> sequential keep-alive requests are sent, and the
# counters are dumped. Needs valgrind and python3.
set -euo pipefail
bin=$(realpath "$1") path=$2 n=${3:-2000} body_arg=${4:-}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; [ -n "${KEEP_CALLGRIND:-}" ] && cp "$work/cg.out.1" "$KEEP_CALLGRIND"; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTCULLIS_SQLITE_PATH="$work/db.sqlite" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/cg.out" "$bin" start --host 127.0.0.1 --port "$port" > "$work/server.log" 2>&1 &
pid=$!
send() {
  python3 - "$port" "$1" "$path" "$work/body" <<'PY'
import http.client, os, sys
port, n, path, body_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
body = open(body_file, "rb").read() if os.path.exists(body_file) else None
headers = {"cdi-version": "5.4"}
if body is not None:
    headers["content-type"] = "application/json"
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("POST" if body is not None else "GET", path, body=body, headers=headers)
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path}: status {r.status}")
PY
}
for _ in $(seq 300); do curl -sf -H 'cdi-version: 5.4' "http://127.0.0.1:$port/hello" > /dev/null && break; sleep 0.5; done
case "$body_arg" in
  "") ;;
  @*) PORT=$port bash "${body_arg#@}" > "$work/body" ;;
  *) printf '%s' "$body_arg" > "$work/body" ;;
esac
# Let background work the setup started (a spare signing key being generated) finish first: wait
# until the server has used under 5 % of a core for two seconds running.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
quiet=0
for _ in $(seq 300); do
  before=$(cpu_ticks); sleep 1; after=$(cpu_ticks)
  if [ $((after - before)) -le $(( $(getconf CLK_TCK) / 20 )) ]; then quiet=$((quiet + 1)); else quiet=0; fi
  [ "$quiet" -ge 2 ] && break
done
send 50
callgrind_control -i on "$pid" > /dev/null 2>&1
send "$n"
callgrind_control -d "$pid" > /dev/null 2>&1
for _ in $(seq 50); do [ -s "$work/cg.out.1" ] && break; sleep 0.2; done
sleep 0.5
ir=$(callgrind_annotate "$work/cg.out.1" 2> /dev/null | awk '/PROGRAM TOTALS/ && !seen { gsub(",", "", $1); print $1; seen = 1 }')
echo "$path: $((ir / n)) instructions per request ($n requests)"
