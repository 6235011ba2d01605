#!/usr/bin/env bash
# berth inspect NAME|ID finds containers first, then images, volumes and
# networks; -f '{{.State.Pid}}' is the container's init, and
# '{{.NetworkSettings.IPAddress}}' the address the container really has;
# {{json .X}} prints JSON; --type narrows the lookup; an unknown name fails.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    volumes: [data:/data]
volumes:
  data: {}
YAML
out=$(b up -d 2>&1) || bt_fail "up: $out"
id=$(b container inspect -f '{{.Id}}' demo-web-1) || bt_fail "container inspect"

echo "== a container by name and by id"
pid=$(b inspect -f '{{.State.Pid}}' demo-web-1) || bt_fail "inspect -f State.Pid"
[ "$pid" -gt 0 ] 2>/dev/null || bt_fail "pid '$pid'"
expect_in "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "sleep 300" "the pid is the container's process"
expect_eq "$(b inspect -f '{{.Name}}' "$id")" "$(b container inspect -f '{{.Name}}' "$id")" "by id"
expect_eq "$(b inspect -f '{{.State.Pid}}' "${id:0:12}")" "$pid" "by short id"

echo "== NetworkSettings.IPAddress is the container's eth0 address"
ip=$(b inspect -f '{{.NetworkSettings.IPAddress}}' demo-web-1) || bt_fail "inspect IPAddress"
[ -n "$ip" ] || bt_fail "empty IPAddress"
inside=$(b exec -T web ip -4 -o addr show eth0) || bt_fail "exec ip addr"
expect_in "$inside" " $ip/" "the address inside the container"
net=$(b inspect -f '{{json .NetworkSettings.Networks}}' demo-web-1)
python3 -c '
import json, sys
n = json.loads(sys.argv[1])
assert list(n) == ["demo_default"], n
assert n["demo_default"]["IPAddress"] == sys.argv[2], n
' "$net" "$ip" || bt_fail "Networks: $net"
expect_eq "$(b container inspect -f '{{.NetworkSettings.IPAddress}}' demo-web-1)" "$ip" \
    "container inspect has it too"
b inspect demo-web-1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert len(d) == 1 and d[0]["State"]["Running"] is True, d
' || bt_fail "inspect without -f is a JSON array"

echo "== images, volumes and networks"
expect_in "$(b inspect -f '{{.Id}}' berth-test/busybox:latest)" "sha256:" "an image"
expect_eq "$(b inspect -f '{{.Id}}' berth-test/busybox:latest)" \
    "$(b image inspect -f '{{.Id}}' berth-test/busybox:latest)" "the image's id"
expect_eq "$(b inspect -f '{{.Mountpoint}}' demo_data)" \
    "$(b volume inspect -f '{{.Mountpoint}}' demo_data)" "a volume"
expect_eq "$(b inspect -f '{{.Name}}' demo_default)" "demo_default" "a network"
subnet=$(b inspect -f '{{json .IPAM.Config}}' demo_default)
expect_in "$subnet" '"Subnet"' "{{json .X}} of a network"

echo "== containers come first; --type narrows"
b volume create demo-web-1 >/dev/null || bt_fail "volume named like the container"
expect_eq "$(b inspect -f '{{.State.Pid}}' demo-web-1)" "$pid" "the container wins"
expect_eq "$(b inspect --type volume -f '{{.Name}}' demo-web-1)" "demo-web-1" "--type volume"
b volume rm demo-web-1 >/dev/null || bt_fail "volume rm"

echo "== an unknown name fails, the others still print"
if out=$(b inspect -f '{{.Name}}' nosuchthing demo_default 2>&1); then
    bt_fail "inspect of an unknown name succeeded: $out"
fi
expect_in "$out" "No such object: nosuchthing" "names it"
expect_in "$out" "demo_default" "the known one is printed"
if b inspect --type bogus demo-web-1 >/dev/null 2>&1; then bt_fail "--type bogus accepted"; fi

b down -t 1 -v >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
exit 0
