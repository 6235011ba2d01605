#!/usr/bin/env bash
# berth system restore after a simulated host reboot (every monitor and
# container killed with SIGKILL, mounts, links, nft table, cgroups and
# RUNROOT gone): containers with restart always or unless-stopped that were
# running come back with the same address, their published port and a
# joined namespace; one the user stopped and one with restart no stay
# exited; a second restore does nothing; down leaves nothing.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
command -v nft >/dev/null || bt_skip "needs nft"
up_image

up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["127.0.0.1:18080:8080"]
    restart: always
    stop_grace_period: 1s
    healthcheck: {disable: true}
  side:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    network_mode: service:web
    restart: always
    stop_grace_period: 1s
    healthcheck: {disable: true}
  keeper:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    restart: unless-stopped
    stop_grace_period: 1s
    healthcheck: {disable: true}
  stopped:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    restart: always
    stop_grace_period: 1s
    healthcheck: {disable: true}
  once:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML
out=$(b up -d 2>&1) || bt_fail "up: $out"
wait_for 50 timeout 5 wget -qO- http://127.0.0.1:18080/ || bt_fail "no answer before the reboot"
page=$(timeout 5 wget -qO- http://127.0.0.1:18080/)
ip=$(b inspect -f '{{.NetworkSettings.IPAddress}}' demo-web-1)
[ -n "$ip" ] || bt_fail "web has no address"
b stop -t 1 stopped >/dev/null 2>&1 || bt_fail "stop"
expect_eq "$(b ps -q stopped)" "" "stopped is stopped"

echo "== simulate a reboot"
state() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], 0))' "$@"; }
for f in "$BERTH_ROOT"/containers/*/state.json "$BERTH_RUNROOT"/containers/*/state.json; do
    [ -f "$f" ] || continue
    mp=$(state "$f" MonitorPid)
    [ "$mp" -gt 0 ] && kill -KILL "$mp" 2>/dev/null
done
for f in "$BERTH_ROOT"/containers/*/state.json "$BERTH_RUNROOT"/containers/*/state.json; do
    [ -f "$f" ] || continue
    p=$(state "$f" Pid)
    [ "$p" -gt 0 ] && kill -KILL "$p" 2>/dev/null
done
for _ in $(seq 50); do
    [ -z "$(pgrep -a berth-monitor)" ] && [ -z "$(pgrep -x sleep)" ] && [ -z "$(pgrep -x httpd)" ] && break
    sleep 0.1
done
[ -z "$(pgrep -a berth-monitor)" ] || bt_fail "monitors survived SIGKILL"
grep -e "$BERTH_ROOT" -e "$BERTH_RUNROOT" /proc/self/mountinfo | awk '{print $5}' | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null || true; done
for l in $(ip -o link show | awk -F': ' '$2 != "lo" {sub(/@.*/, "", $2); print $2}'); do
    ip link del "$l" 2>/dev/null || true
done
nft delete table ip berth 2>/dev/null || true
for d in $(find /sys/fs/cgroup -depth -mindepth 2 -type d -path "*/$BERTH_CGROUP_PARENT/*" 2>/dev/null); do
    rmdir "$d" 2>/dev/null || true
done
rm -rf "${BERTH_RUNROOT:?}"/*
[ -z "$(ip -o link show | grep -v ': lo:')" ] || bt_fail "links survived the reboot"
if timeout 2 wget -qO- http://127.0.0.1:18080/ >/dev/null 2>&1; then bt_fail "web answers after the reboot"; fi

echo "== restore"
out=$(b system restore 2>&1) || bt_fail "system restore: $out"
echo "$out"
expect_in "$out" "demo-web-1" "web restored"
expect_in "$out" "demo-side-1" "side restored"
expect_in "$out" "demo-keeper-1" "keeper restored"
expect_not_in "$out" "demo-stopped-1" "the stopped one"
expect_not_in "$out" "demo-once-1" "restart no"
[ -n "$(b ps -q web)" ] || bt_fail "web is not running"
[ -n "$(b ps -q side)" ] || bt_fail "side is not running"
[ -n "$(b ps -q keeper)" ] || bt_fail "keeper is not running"
expect_eq "$(b ps -q stopped)" "" "the container the user stopped stays stopped"
expect_eq "$(b ps -q once)" "" "restart no stays exited"
wait_for 50 timeout 5 wget -qO- http://127.0.0.1:18080/ || bt_fail "no answer after restore"
expect_eq "$(timeout 5 wget -qO- http://127.0.0.1:18080/)" "$page" "the page through the published port"
expect_eq "$(b inspect -f '{{.NetworkSettings.IPAddress}}' demo-web-1)" "$ip" "the same address"
expect_in "$(b exec -T web ip -4 -o addr show eth0)" " $ip/" "the address inside"
expect_in "$(b exec -T side ip -4 -o addr show eth0)" " $ip/" "side joins web's namespace"
expect_in "$(b exec -T keeper cat /etc/hosts)" "demo-keeper-1" "resolution files made again"

echo "== a second restore has nothing to do"
out=$(b system restore 2>&1) || bt_fail "second restore: $out"
expect_not_in "$out" "demo-" "nothing restored twice"

b down -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after down"
exit 0
