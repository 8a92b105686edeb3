#!/usr/bin/env bash
# Instructions per request of one GET path, counted exactly with callgrind (load-independent,
# unlike requests per second on a shared machine). Compares binaries of two commits:
#   scripts/instructions-per-request.sh <portcullis binary> <path> [requests]
# e.g. scripts/instructions-per-request.sh target/release/portcullis /hello 2000
# The server runs on a fresh SQLite file under valgrind with instrumentation off; after 50 warm-up
# requests counting is switched on, <requests> sequential keep-alive requests are sent, and the
# counters are dumped. Needs valgrind and python3.
set -euo pipefail
bin=$(realpath "$1") path=$2 n=${3:-2000}
work=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
PORTCULLIS_SQLITE_PATH="$work/db.sqlite" valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/cg.out" "$bin" start --host 127.0.0.1 --port "$port" > "$work/server.log" 2>&1 &
pid=$!
send() {
  python3 - "$port" "$1" "$path" <<'PY'
import http.client, sys
port, n, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
c = http.client.HTTPConnection("127.0.0.1", port)
for _ in range(n):
    c.request("GET", path, headers={"cdi-version": "5.4"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"{path}: status {r.status}")
PY
}
for _ in $(seq 300); do curl -sf -H 'cdi-version: 5.4' "http://127.0.0.1:$port/hello" > /dev/null && break; sleep 0.5; done
send 50
callgrind_control -i on "$pid" > /dev/null 2>&1
send "$n"
callgrind_control -d "$pid" > /dev/null 2>&1
for _ in $(seq 50); do [ -s "$work/cg.out.1" ] && break; sleep 0.2; done
sleep 0.5
ir=$(callgrind_annotate "$work/cg.out.1" 2> /dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1; exit }')
echo "$path: $((ir / n)) instructions per request ($n requests)"
