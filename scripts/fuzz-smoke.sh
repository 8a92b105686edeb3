#!/usr/bin/env bash
# cargo-fuzz targets (fuzz/): build all in one go, then run each for FUZZ_SECONDS (default 30)
# from its corpus in fuzz/corpus/<target>. New inputs go to a scratch directory, so the committed
# corpus stays as it is. Installs the nightly toolchain and cargo-fuzz when they are missing.
#
#   scripts/fuzz-smoke.sh [target ...]        (default: every target)
#
# A long run of one target, keeping what it finds (then minimise: see docs/reliability.md):
#   FUZZ_SECONDS=600 FUZZ_KEEP=1 scripts/fuzz-smoke.sh config
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${FUZZ_SECONDS:-30}

if ! rustup run nightly rustc --version >/dev/null 2>&1; then
  rustup toolchain install nightly --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz
fi

# No sanitizer: the workspace forbids unsafe code, and panics, arithmetic overflow (debug
# assertions stay on), runaway memory and time are what these targets look for.
build_flags=(-O -s none)
[ -z "${CARGO_TARGET_DIR:-}" ] || build_flags+=(--target-dir "$CARGO_TARGET_DIR")
started=$(date +%s)
cargo +nightly fuzz build "${build_flags[@]}"
echo "fuzz build: $(( $(date +%s) - started )) s"

targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(cargo +nightly fuzz list)
for t in "${targets[@]}"; do
  scratch=$(mktemp -d)
  corpus=corpus/$t
  mkdir -p "$corpus"
  [ -n "${FUZZ_KEEP:-}" ] && scratch=$corpus
  echo "-- fuzz $t for ${seconds}s"
  log=$(mktemp)
  status=0
  # One process (no -jobs): the machine is shared.
  cargo +nightly fuzz run "${build_flags[@]}" "$t" "$scratch" "$corpus" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 > "$log" 2>&1 || status=$?
  grep -E "^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)" "$log" || true
  [ "$scratch" = "$corpus" ] || rm -rf "$scratch"
  if [ "$status" != 0 ]; then
    grep -E -A20 "panicked|ERROR|SUMMARY|artifact" "$log" | head -60 >&2
    echo "fuzz target $t failed (artifacts in fuzz/artifacts/$t)" >&2
    exit 1
  fi
  rm -f "$log"
done
