#!/usr/bin/env bash
# CI smoke of the benchmark tool (crates/bench): every scenario for about a second at 4 connections,
# with short floors, on SQLite, and on PostgreSQL when PORTCULLIS_TEST_PG_URI is set; against the
# debug build (PORTCULLIS_BIN, default target/debug/portcullis). Fails if any request or floor call
# fails. Not a measurement: see docs/benchmarks.md for real runs.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --locked -q -p portcullis -p portcullis-bench
bin=${PORTCULLIS_BIN:-target/debug/portcullis}
# Cheap hashing, so that sign-up and sign-in do not dominate the smoke's time in a debug build.
export BCRYPT_LOG_ROUNDS=${BCRYPT_LOG_ROUNDS:-4}

# The issue 24 workload at a small size: every read path works; its ratios are not judged here.
workload="workload --sizes 300,3000 --groups 20 --iterations 3"

echo "-- bench smoke, sqlite"
target/debug/portcullis-bench run --smoke --bin "$bin" --backend sqlite
target/debug/portcullis-bench $workload --bin "$bin" --backend sqlite
if [ -n "${PORTCULLIS_TEST_PG_URI:-}" ]; then
  echo "-- bench smoke, postgres"
  target/debug/portcullis-bench run --smoke --bin "$bin" --backend postgres --pg-uri "$PORTCULLIS_TEST_PG_URI"
  target/debug/portcullis-bench $workload --bin "$bin" --backend postgres --pg-uri "$PORTCULLIS_TEST_PG_URI"
else
  echo "PORTCULLIS_TEST_PG_URI is not set: PostgreSQL bench smoke skipped"
fi
