#!/usr/bin/env bash
# Runs deploy/portcullis.service under a real systemd, installed by the recipe written at the top
# of the unit file (the same as docs/deployment.md), with deploy/config.yaml as the config:
# the service must come up as its dynamic user, answer `portcullis health`, keep its SQLite file
# in its state directory, write log files in its logs directory, and stop cleanly.
#
# The machine's PID 1 is not systemd, so the test boots one: systemd as PID 1 of new PID, mount,
# network, UTS and IPC namespaces (like a container), in a cgroup of its own, with /etc, /var and
# /usr/local as overlays and /run and /tmp as tmpfs, so nothing it installs or writes reaches the
# machine. Only the units the service needs are visible to it (journald, the basic targets).
# Takes a few seconds. Needs root and util-linux's unshare/nsenter; skipped otherwise.
#
#   tests/deploy/systemd-unit.sh            # the binary: $PORTCULLIS_BIN, else target/debug/portcullis
#   UNIT=old.service CONFIG=x.yaml tests/deploy/systemd-unit.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${PORTCULLIS_BIN:-$root/target/debug/portcullis}
unit=${UNIT:-$root/deploy/portcullis.service}
config=${CONFIG:-$root/deploy/config.yaml}

skip() { echo "systemd unit test skipped: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "it needs root (namespaces and mounts)"
for c in unshare nsenter ip /usr/lib/systemd/systemd systemctl journalctl; do
  command -v "$c" >/dev/null || skip "$c is not installed"
done
[ -x "$bin" ] || { echo "no binary at $bin (cargo build -p portcullis)" >&2; exit 1; }

work=$(mktemp -d /tmp/portcullis-systemd.XXXXXX)
cgroup=portcullis-systemd-test-$$
init=
cleanup() {
  # Killing the namespace's PID 1 ends every process in it and drops its mounts.
  if [ -n "$init" ]; then kill -9 "$init" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  for h in /sys/fs/cgroup/*/; do
    if [ -d "$h$cgroup" ]; then find "$h$cgroup" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
  done
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*" >&2
  ns journalctl --no-pager -o short -u portcullis 2>/dev/null | tail -30 >&2 || true
  exit 1
}

# The install commands of the unit's header, with the paths of this checkout.
recipe=$(sed -n 's/^#   \(install .*\)$/\1/p' "$unit" \
  | sed -e "s#target/release/portcullis#$bin#" -e "s#deploy/config.yaml#$config#" -e "s#deploy/portcullis.service#$unit#")
[ -n "$recipe" ] || fail "no install commands in the header of $unit"

cat > "$work/inner.sh" <<EOF
set -e
mount -t proc proc /proc
mount --bind /proc/sys /proc/sys
mount -o remount,bind,ro /proc/sys
overlay() { mkdir -p "$work/\$2/upper" "$work/\$2/work"; mount -t overlay overlay -o "lowerdir=\$1,upperdir=$work/\$2/upper,workdir=$work/\$2/work" "\$1"; }
overlay /etc etc; overlay /var var; overlay /usr/local usr-local
mount -t tmpfs tmpfs /run
mkdir -p "$work/units"
for u in systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service basic.target sysinit.target \
         shutdown.target network-online.target multi-user.target local-fs.target sockets.target timers.target \
         paths.target slices.target; do
  cp "/usr/lib/systemd/system/\$u" "$work/units/"
done
printf '[Unit]\nDescription=Portcullis unit test\nWants=systemd-journald.socket systemd-journald-dev-log.socket portcullis.service\n' \
  > "$work/units/portcullis-test.target"
mount --bind "$work/units" /usr/lib/systemd/system
find /etc/systemd/system -mindepth 1 -delete
ip link set lo up
$recipe
mount -t tmpfs tmpfs /tmp
mount --make-rshared /
export container=portcullis-test
exec /usr/lib/systemd/systemd --system --unit=portcullis-test.target --log-target=journal
EOF

(
  for h in /sys/fs/cgroup/*/; do
    [ -L "${h%/}" ] && continue
    mkdir -p "$h$cgroup" 2>/dev/null && echo $BASHPID > "$h$cgroup/cgroup.procs" 2>/dev/null || true
  done
  exec unshare --pid --fork --mount --net --uts --ipc --propagation private bash "$work/inner.sh"
) > "$work/boot.log" 2>&1 &
unshare_pid=$!
for _ in $(seq 100); do
  kill -0 "$unshare_pid" 2>/dev/null || break
  init=$(pgrep -P "$unshare_pid" || true)
  [ -n "$init" ] && [ "$(cat /proc/"$init"/comm 2>/dev/null)" = systemd ] && break
  sleep 0.1
done
[ "$(cat /proc/"$init"/comm 2>/dev/null)" = systemd ] || { cat "$work/boot.log" >&2; echo "FAIL: systemd did not start" >&2; exit 1; }
ns() { nsenter -t "$init" -a "$@"; }

# Up and healthy within 15 s, without a restart.
healthy() {
  for _ in $(seq 150); do
    ns portcullis health --timeout-ms 500 >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  return 1
}
healthy || fail "the service did not become healthy ($(ns systemctl is-active portcullis 2>&1))"
[ "$(ns systemctl show -p NRestarts --value portcullis)" = 0 ] || fail "the service restarted"
main=$(ns systemctl show -p MainPID --value portcullis)
uid=$(ns ps -o uid= -p "$main" | tr -d ' ')
[ -n "$uid" ] && [ "$uid" != 0 ] || fail "the service runs as uid '$uid', not its dynamic user"
log=$(ns journalctl --no-pager -o cat -u portcullis)
for line in "config file: /run/credentials/portcullis.service/config.yaml" \
            "environment variables applied: none" \
            "storage: SQLite /var/lib/portcullis/portcullis.db" \
            "listening on 127.0.0.1:3567"; do
  grep -qF "$line" <<< "$log" || fail "'$line' is not in the journal"
done
ns test -s /var/lib/private/portcullis/portcullis.db || fail "no database in the state directory"
[ "$(ns stat -c %u /var/lib/private/portcullis/portcullis.db)" = "$uid" ] || fail "the database is not the service's"
# The config stays root's: the service reads its credential copy, never /etc/portcullis.
[ "$(ns stat -c '%U %a' /etc/portcullis/config.yaml)" = "root 600" ] || fail "the installed config is not root's 0600"

# Log files in the logs directory, after an edit of the config and a restart.
ns sh -c 'printf "info_log_path: /var/log/portcullis/info.log\nerror_log_path: /var/log/portcullis/error.log\n" >> /etc/portcullis/config.yaml'
ns systemctl restart portcullis
healthy || fail "not healthy after the restart with log files"
ns grep -q "listening on 127.0.0.1:3567" /var/log/private/portcullis/info.log || fail "nothing in /var/log/portcullis/info.log"

# A clean stop: SIGTERM, in-flight requests finish, the unit ends inactive, not failed.
ns systemctl stop portcullis
state="$(ns systemctl show -p ActiveState --value portcullis) $(ns systemctl show -p Result --value portcullis)"
[ "$state" = "inactive success" ] || fail "after stop: $state"
ns grep -q "stopped" /var/log/private/portcullis/info.log || fail "no 'stopped' line after SIGTERM"
echo "systemd unit test passed: healthy as uid $uid, SQLite in its state directory, log files, clean stop"
