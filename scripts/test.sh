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

# Each step prints when it starts (minutes into the run) and has a time limit, so that a hang fails
# the run naming its step instead of running into CI's own limit. The limits are about three times
# a step's time on the 2-core CI machine.
PORTCULLIS_TEST_STARTED=${PORTCULLIS_TEST_STARTED:-$(date +%s)}
export PORTCULLIS_TEST_STARTED
step() {
  local name=$1 limit=$2
  shift 2
  local at=$(( $(date +%s) - PORTCULLIS_TEST_STARTED ))
  echo "== $name [at $((at / 60))m$((at % 60))s, limit $limit]"
  local rc=0
  timeout -k 20 "$limit" "$@" || rc=$?
  if [ "$rc" -ne 0 ]; then
    [ "$rc" -ne 124 ] || echo "step '$name' did not finish within $limit" >&2
    echo "step '$name' failed (exit $rc)" >&2
    return "$rc"
  fi
}

# A run writes about 10 GB (debug and fuzz builds; 5.3 GB without incremental state): say so up front
# rather than fail on a full disk twenty minutes in.
free_kb=$(df -Pk "$root" | awk 'NR == 2 { print $4 }')
echo "disk: $((free_kb / 1048576)) GB free under $root"
[ "$free_kb" -ge $((12 * 1048576)) ] || echo "warning: under 12 GB free; the build may run out of disk" >&2

step "build" 20m cargo build --locked -p portcullis
export PORTCULLIS_BIN="$root/target/debug/portcullis"

# The deployment recipes, as far as a machine without a container engine can run them: the
# systemd unit under a real systemd booted in namespaces, the Dockerfile linted and its commands
# run with the binary (docs/deployment.md). Seconds each.
step "deploy/portcullis.service under systemd" 3m tests/deploy/systemd-unit.sh
step "Dockerfile: lint, dependency layer, entrypoint and health check" 3m tests/deploy/dockerfile.sh

run_all() {
  # `bash -c run_all` starts a new shell: the options must be set here, or a failing step would
  # not stop the run (and the run's status would be only its last step's).
  set -euo pipefail
  step "rust tests (SQLite and PostgreSQL)" 25m cargo test --locked --workspace

  # the export converters of docs/migrating.md (seconds)
  step "bulk-import export converters" 2m python3 -m unittest discover -s tests/bulk-import -q

  # own PostgreSQL clusters; the full run: docs/reliability.md
  step "database faults under load" 6m scripts/db-faults.sh --quick

  # every scenario for a second; a measurement is by hand: docs/benchmarks.md
  step "benchmark tool smoke" 6m scripts/bench-smoke.sh

  local venv="$root/tests/sdk/python/.venv"
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { apt_install python3-venv && python3 -m venv "$venv"; }
  fi
  step "supertokens-python: pip install" 6m \
    "$venv/bin/pip" install -q --disable-pip-version-check -r tests/sdk/python/requirements.txt
  # The node SAML test runs the Python test IdP (tests/sdk/python/saml_idp.py) with this venv.
  export PORTCULLIS_SAML_IDP_PYTHON="$venv/bin/python"

  step "supertokens-node: npm ci" 6m npm ci --prefix tests/sdk/node --no-audit --no-fund --loglevel=error
  for backend in sqlite postgres; do
    step "supertokens-node end-to-end tests, $backend" 10m \
      env -C tests/sdk/node PORTCULLIS_BACKEND=$backend npm test --silent
  done

  # Older supertokens-node majors (13-17, CDI 2.20-5.0) and the mid-upgrade tokens, one process
  # per backend (issue 21).
  for backend in sqlite postgres; do
    step "older supertokens-node majors (CDI 2.20-5.0), $backend" 5m \
      env -C tests/sdk/node PORTCULLIS_BACKEND=$backend npm run test:old --silent
  done

  for backend in sqlite postgres; do
    step "supertokens-python end-to-end tests, $backend" 10m \
      env -C tests/sdk/python PORTCULLIS_BACKEND=$backend "$venv/bin/python" -m pytest -q -p no:cacheprovider
  done

  # supertokens-python 0.24.4 (CDI 3.0), without its dependencies: it runs on 0.31.4's (issue 21).
  step "supertokens-python 0.24.4: pip install" 3m \
    "$venv/bin/pip" install -q --disable-pip-version-check --no-deps --target "$root/tests/sdk/python-old/.sdk" \
    -r tests/sdk/python-old/requirements.txt
  for backend in sqlite postgres; do
    step "supertokens-python 0.24.4 end-to-end tests, $backend" 5m \
      env -C tests/sdk/python-old PYTHONPATH="$root/tests/sdk/python-old/.sdk" PORTCULLIS_BACKEND=$backend \
      "$venv/bin/python" -m pytest -q -p no:cacheprovider
  done

  # own clusters: TLS only, PgBouncer in transaction mode, a primary with a synchronous standby
  # (failover under load); Rust tests and SDK flows on each (docs/deployment.md, docs/reliability.md)
  step "PostgreSQL in production: TLS, PgBouncer, failover" 15m scripts/pg-production.sh

  # Node SDK files that move tenants and sessions between nodes, through the balancer, then
  # tests/cluster (coherence, sharded tenants under load). The whole SDK suites through the
  # balancer are a run by hand (docs/reliability.md). Cheap hashing for the sign-up load.
  BCRYPT_LOG_ROUNDS=4 step "several instances: 3 nodes behind nginx on one PostgreSQL" 10m \
    scripts/cluster.sh --test-mode -- bash -c \
    '(cd tests/sdk/node && node --test --test-concurrency=1 --test-timeout=180000 test/tenants.test.js test/thirdparty-config.test.js test/session.test.js test/emailpassword-users.test.js) && node --test --test-concurrency=1 --test-timeout=180000 tests/cluster/'
}
export -f run_all step need apt_install
export root

# each cargo-fuzz target for 30 s: docs/reliability.md
step "fuzz smoke" 20m scripts/fuzz-smoke.sh

scripts/with-postgres.sh bash -c run_all
echo "== all tests passed"
