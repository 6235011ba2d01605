#!/usr/bin/env bash
# network_mode: service:x and volumes_from: a service joins another's
# network namespace (its published port reaches the joined server) and
# takes its volumes; down stops the joined service first and leaves nothing.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
up_image
up_project demo <<'YAML'
services:
  infra:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    ports: ["127.0.0.1:18085:80"]
    volumes: [shared:/shared]
    healthcheck: {disable: true}
  web:
    image: berth-test/busybox:latest
    network_mode: service:infra
    volumes_from: [infra]
    command: [sh, -c, "echo written by web > /shared/x; trap 'exit 0' TERM; httpd -f -p 80 -h /shared & wait"]
    healthcheck: {disable: true}
volumes:
  shared: {}
YAML
out=$(b up -d 2>&1) || bt_fail "up: $out"
wait_for 50 timeout 5 wget -qO- http://127.0.0.1:18085/x || bt_fail "no answer through infra's port"
expect_eq "$(timeout 5 wget -qO- http://127.0.0.1:18085/x)" "written by web" "page"
expect_eq "$(b exec -T infra cat /shared/x)" "written by web" "the shared volume"
expect_eq "$(b exec -T web hostname)" "$(b exec -T infra hostname)" "one uts name for a joined netns"
echo "== recreating the owner recreates the joined service"
sed -i 's|    ports: \["127.0.0.1:18085:80"\]|    ports: ["127.0.0.1:18085:80"]\n    environment: {CHANGED: "1"}|' compose.yaml
out=$(b up -d 2>&1) || bt_fail "up after a change: $out"
echo "$out"
expect_in "$out" "Container demo-infra-1  Recreate (configuration changed)" "owner"
expect_in "$out" "Container demo-web-1  Recreate (infra was recreated)" "joined follows"
wait_for 50 timeout 5 wget -qO- http://127.0.0.1:18085/x || bt_fail "no answer after recreate"
out=$(b down -v 2>&1) || bt_fail "down: $out"
[ "$(echo "$out" | grep -n 'demo-web-1  Stopped' | cut -d: -f1)" -lt \
    "$(echo "$out" | grep -n 'demo-infra-1  Stopping' | cut -d: -f1)" ] ||
    bt_fail "infra stopped before the service joined to it: $out"
assert_nothing_left
echo PASS
