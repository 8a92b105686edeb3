#!/usr/bin/env bash
# Runs every test: Rust unit and integration tests on SQLite and PostgreSQL, then the end-to-end
# tests through the official SDKs (supertokens-node, supertokens-python) on both backends.
# Installs what it needs on a fresh Debian machine (PostgreSQL server, SDK dependencies) and
# starts a throwaway PostgreSQL cluster for the run (scripts/with-postgres.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

need() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
  if [ "$(id -u)" = 0 ] && need apt-get; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  else
    echo "missing: $* (install it and retry)" >&2
    exit 1
  fi
}
need node || apt_install nodejs npm
need python3 || apt_install python3 python3-venv

echo "== build"
cargo build --locked -p portcullis
export PORTCULLIS_BIN="$root/target/debug/portcullis"

run_all() {
  # `bash -c run_all` starts a new shell: the options must be set here, or a failing step would
  # not stop the run (and the run's status would be only its last step's).
  set -euo pipefail
  echo "== rust tests (SQLite and PostgreSQL)"
  cargo test --locked --workspace

  echo "== database faults under load (own PostgreSQL clusters; the full run: docs/reliability.md)"
  scripts/db-faults.sh --quick

  echo "== benchmark tool smoke (every scenario for a second; a measurement is by hand: docs/benchmarks.md)"
  scripts/bench-smoke.sh

  echo "== supertokens-node end-to-end tests"
  (cd tests/sdk/node && npm ci --no-audit --no-fund --loglevel=error)
  for backend in sqlite postgres; do
    echo "-- node, $backend"
    (cd tests/sdk/node && PORTCULLIS_BACKEND=$backend npm test --silent)
  done

  echo "== supertokens-python end-to-end tests"
  local venv="$root/tests/sdk/python/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
  fi
  "$venv/bin/pip" install -q --disable-pip-version-check -r tests/sdk/python/requirements.txt
  for backend in sqlite postgres; do
    echo "-- python, $backend"
    (cd tests/sdk/python && PORTCULLIS_BACKEND=$backend "$venv/bin/python" -m pytest -q -p no:cacheprovider)
  done

  echo "== several instances: 3 nodes behind nginx on one PostgreSQL (scripts/cluster.sh)"
  # Node SDK files that move tenants and sessions between nodes, through the balancer, then
  # tests/cluster (coherence, sharded tenants under load). The whole SDK suites through the
  # balancer are a run by hand (docs/reliability.md). Cheap hashing for the sign-up load.
  BCRYPT_LOG_ROUNDS=4 scripts/cluster.sh --test-mode -- bash -c \
    '(cd tests/sdk/node && node --test --test-concurrency=1 test/tenants.test.js test/thirdparty-config.test.js test/session.test.js test/emailpassword-users.test.js) && node --test --test-concurrency=1 tests/cluster/'
}
export -f run_all need apt_install
export root

echo "== fuzz smoke (each cargo-fuzz target for 30 s: docs/reliability.md)"
scripts/fuzz-smoke.sh

scripts/with-postgres.sh bash -c run_all
echo "== all tests passed"
