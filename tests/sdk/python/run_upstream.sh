#!/usr/bin/env bash
# Runs supertokens-python's own test suite against an already-running Portcullis and prints
# pass/fail counts per folder. A measurement, not a gate: failing upstream tests still exit 0.
#
# Usage: tests/sdk/python/run_upstream.sh [folder ...]      (default: tests/multitenancy)
#   folders are relative to the upstream checkout, e.g. tests/multitenancy tests/emailpassword
#
# Environment:
#   PORTCULLIS_URL   where Portcullis listens (default http://127.0.0.1:3567); or set
#                    PORTCULLIS_HOST and PORTCULLIS_PORT instead. Start it with --test-mode.
#   UPSTREAM_DIR     a checkout of supertokens-python (default /work/upstream/supertokens-python).
#                    This script fetches nothing from GitHub; without that directory it skips.
#   UPSTREAM_LOG_DIR where pytest output and junit files go (default: a new temp dir)
#   UPSTREAM_FOLDER_TIMEOUT  seconds allowed per folder (default 1800)
#
# Exit code: 0 whenever the suite ran (whatever its results) or was skipped; 2 when Portcullis
# is not reachable or the venv could not be set up.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
UPSTREAM_DIR="${UPSTREAM_DIR:-/work/upstream/supertokens-python}"
VENV="$HERE/.venv-upstream"
FOLDER_TIMEOUT="${UPSTREAM_FOLDER_TIMEOUT:-1800}"

if [ ! -f "$UPSTREAM_DIR/setup.py" ] || [ ! -d "$UPSTREAM_DIR/tests" ]; then
    echo "No supertokens-python checkout at UPSTREAM_DIR=$UPSTREAM_DIR (set UPSTREAM_DIR to one)."
    echo "upstream suite skipped"
    exit 0
fi

# --- where Portcullis is ------------------------------------------------------------------
if [ -n "${PORTCULLIS_URL:-}" ]; then
    hostport="${PORTCULLIS_URL#*://}"
    hostport="${hostport%%/*}"
    CORE_HOST="${hostport%:*}"
    CORE_PORT="${hostport##*:}"
    [ "$CORE_PORT" = "$hostport" ] && CORE_PORT=3567
else
    CORE_HOST="${PORTCULLIS_HOST:-127.0.0.1}"
    CORE_PORT="${PORTCULLIS_PORT:-3567}"
fi

if ! python3 - "$CORE_HOST" "$CORE_PORT" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(f"http://{sys.argv[1]}:{sys.argv[2]}/hello", timeout=5) as r:
        sys.exit(0 if r.status == 200 and "Hello" in r.read().decode() else 1)
except Exception:
    sys.exit(1)
EOF
then
    echo "Portcullis does not answer GET http://$CORE_HOST:$CORE_PORT/hello; start it first:"
    echo "  portcullis start --host $CORE_HOST --port $CORE_PORT --test-mode"
    exit 2
fi

LOG_DIR="${UPSTREAM_LOG_DIR:-$(mktemp -d /tmp/upstream-python-XXXXXX)}"
mkdir -p "$LOG_DIR"

# --- venv: the upstream package (editable) and the dev requirements needed to run tests -----
# Linters, type checkers and doc tools from dev-requirements.txt are left out.
REQS="$(grep -v -E '^(-e |black|pdoc3|pre-commit|pylint|pyright|django-stubs|wasmtime)' \
    "$UPSTREAM_DIR/dev-requirements.txt")"
STAMP="$VENV/.installed-for"
WANT="$(printf '%s\n%s\n' "$UPSTREAM_DIR" "$REQS" | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
    echo "Setting up $VENV (takes a few minutes the first time)..."
    if ! {
        python3 -m venv "$VENV" &&
        "$VENV/bin/pip" install --upgrade pip &&
        "$VENV/bin/pip" install -e "$UPSTREAM_DIR" -r <(echo "$REQS")
    } > "$LOG_DIR/venv-install.log" 2>&1; then
        tail -n 30 "$LOG_DIR/venv-install.log"
        echo "Could not set up $VENV (full log: $LOG_DIR/venv-install.log)"
        exit 2
    fi
    echo "$WANT" > "$STAMP"
fi

# --- run, one pytest per folder ---------------------------------------------------------------
if [ "$#" -eq 0 ]; then
    set -- tests/multitenancy
fi

echo "supertokens-python $(cd "$UPSTREAM_DIR" && "$VENV/bin/python" -c 'from supertokens_python.constants import VERSION; print(VERSION)') against http://$CORE_HOST:$CORE_PORT; logs in $LOG_DIR"
for folder in "$@"; do
    name="$(echo "$folder" | tr '/' '_')"
    echo "--- $folder"
    # The core's address is read when test modules are imported, so it must be exported first.
    # A decorator asks the core for its version while modules load: keep going past
    # collection errors. SUPERTOKENS_ENV=testing is what upstream's conftest sets too.
    (
        cd "$UPSTREAM_DIR"
        SUPERTOKENS_CORE_HOST="$CORE_HOST" SUPERTOKENS_CORE_PORT="$CORE_PORT" \
            timeout "$FOLDER_TIMEOUT" "$VENV/bin/python" -m pytest "$folder" \
            --continue-on-collection-errors -p no:cacheprovider -q \
            --junit-xml="$LOG_DIR/$name.xml" > "$LOG_DIR/$name.log" 2>&1
    ) || true
    tail -n 1 "$LOG_DIR/$name.log" | sed 's/^/    pytest: /'
done

# --- summary from the junit files ---------------------------------------------------------------
"$VENV/bin/python" - "$LOG_DIR" "$@" <<'EOF'
import os, sys
import xml.etree.ElementTree as ET

log_dir, folders = sys.argv[1], sys.argv[2:]
rows, failed_ids = [], []
for folder in folders:
    path = os.path.join(log_dir, folder.replace("/", "_") + ".xml")
    if not os.path.exists(path):
        rows.append((folder, None))
        continue
    counts = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome = "passed"
        for child in case:
            if child.tag == "failure":
                outcome = "failed"
            elif child.tag == "error":
                outcome = "errors"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts[outcome] += 1
        if outcome in ("failed", "errors"):
            failed_ids.append(f"{case.get('classname')}::{case.get('name')} ({outcome})")
    rows.append((folder, counts))

print()
print(f"{'folder':40} {'passed':>7} {'failed':>7} {'errors':>7} {'skipped':>7}")
total = {"passed": 0, "failed": 0, "errors": 0, "skipped": 0}
for folder, counts in rows:
    if counts is None:
        print(f"{folder:40} no junit file (timed out or pytest did not start)")
        continue
    for k in total:
        total[k] += counts[k]
    print(f"{folder:40} {counts['passed']:7} {counts['failed']:7} {counts['errors']:7} {counts['skipped']:7}")
print(f"{'TOTAL':40} {total['passed']:7} {total['failed']:7} {total['errors']:7} {total['skipped']:7}")
if failed_ids:
    print("\nNot passing:")
    for test_id in failed_ids:
        print("  " + test_id)
print(f"\nFull pytest output: {log_dir}/<folder>.log")
EOF
exit 0
