#!/usr/bin/env bash
# up pulls what is missing from a registry (Debian's docker-registry on
# loopback), several images in parallel, per pull_policy and --pull:
# missing (default), never (an error naming the image), always.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
BT_TMP=$BERTH_TEST_TMP
. "$BERTH_SOURCE_DIR/tests/fixtures/image/registry.sh"
command -v docker-registry >/dev/null || bt_skip "needs docker-registry"
command -v curl >/dev/null || bt_skip "needs curl"
up_image
img_registry_start main 127.0.0.1:5000
for name in web db; do
    b tag berth-test/busybox:latest localhost:5000/test/$name:1 || bt_fail "tag"
    b push localhost:5000/test/$name:1 >/dev/null || bt_fail "push $name"
    b rmi localhost:5000/test/$name:1 >/dev/null || bt_fail "rmi $name"
done
b rmi berth-test/busybox:latest >/dev/null || bt_fail "rmi"
[ -z "$(b images -q)" ] || bt_fail "images left before up: $(b images)"

up_project demo <<'YAML'
services:
  web:
    image: localhost:5000/test/web:1
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
  db:
    image: localhost:5000/test/db:1
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML
echo "== --pull never with missing images"
out=$(b up -d --pull never 2>&1) && bt_fail "up --pull never succeeded"
expect_in "$out" "is not in the store and pull_policy is never" "never"
[ -z "$(b ps -a -q)" ] || bt_fail "containers made before the error"

echo "== missing: pulled, both"
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
expect_in "$out" " web  Pulled" "web pulled"
expect_in "$out" " db  Pulled" "db pulled"
expect_eq "$(b ps -q | wc -l)" 2 "both running"

echo "== present: not pulled again; --pull always pulls"
out=$(b up -d 2>&1) || bt_fail "second up: $out"
expect_not_in "$out" "Pulling" "second up"
out=$(b up -d --pull always 2>&1) || bt_fail "up --pull always: $out"
expect_in "$out" " web  Pulled" "always"
expect_in "$out" "Container demo-web-1  Running" "same image: kept"

echo "== a missing image is an error naming the service"
cat >compose.yaml <<'YAML'
services:
  ghost:
    image: localhost:5000/test/ghost:1
YAML
out=$(b up -d 2>&1) && bt_fail "up of a missing image succeeded"
expect_in "$out" "service 'ghost': pull localhost:5000/test/ghost:1" "names service and image"
out=$(b down 2>&1) || bt_fail "down with orphans: $out"
expect_in "$out" "Found orphan containers" "orphans named"
expect_in "$out" "Network demo_default  Resource is still in use" "network kept for the orphans"
out=$(b down --remove-orphans --rmi all 2>&1) || bt_fail "down --remove-orphans: $out"
expect_in "$out" "Container demo-web-1  Removed" "orphan removed"
assert_nothing_left
echo PASS
