#!/usr/bin/env bash
# An image that a container uses cannot be removed without -f: `image rm`
# and `rmi` fail naming the container while the project is up, a one-off
# `run` container holds it too, removing a container (even with the
# low-level `container rm`) releases it, and after `down` the image goes.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
IMG=berth-test/busybox:latest

up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML


out=$(b up -d 2>&1) || bt_fail "up: $out"
web=$(b ps -q web)
app=$(b ps -q app)
[ -n "$web" ] && [ -n "$app" ] || bt_fail "containers not up"

echo "== image rm and rmi refuse while the project is up"
if out=$(b image rm "$IMG" 2>&1); then bt_fail "image rm of a used image succeeded: $out"; fi
echo "$out"
expect_in "$out" "must force" "says it must be forced"
case "$out" in *"$web"* | *"$app"*) ;; *) bt_fail "names no container: $out" ;; esac
if out=$(b rmi "$IMG" 2>&1); then bt_fail "rmi of a used image succeeded: $out"; fi
b image ls | grep -q "berth-test/busybox" || bt_fail "the image went after a refused rm"
expect_in "$(b image inspect -f '{{.Id}}' "$IMG")" "sha256:" "still inspectable"

echo "== a one-off run container uses it, and gives it back when removed"
run_id=$(b run -d app sleep 300 2>/dev/null) || bt_fail "run -d"
run_full=$(b container inspect -f '{{.Id}}' "$run_id") || bt_fail "inspect the run container"
[ -e "$BERTH_ROOT/image/users" ] || bt_fail "no usage recorded"
users_now=$(ls -R "$BERTH_ROOT/image/users")
expect_in "$users_now" "$run_full" "the run container is recorded as a user"
b container rm -f "$run_id" >/dev/null 2>&1 || bt_fail "container rm the run container"
expect_not_in "$(ls -R "$BERTH_ROOT/image/users")" "$run_full" "released by container rm"

echo "== the low-level container rm releases its use"
b container rm -f "$web" >/dev/null 2>&1 || bt_fail "container rm web"
if out=$(b image rm "$IMG" 2>&1); then bt_fail "image rm while app uses it succeeded: $out"; fi
expect_in "$out" "$app" "now names the remaining container"

echo "== after down the image can be removed"
b down -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after down"
out=$(b image rm "$IMG" 2>&1) || bt_fail "image rm after down: $out"
if b image inspect "$IMG" >/dev/null 2>&1; then bt_fail "the image is still there"; fi

echo "== -f removes an image in use"
up_image
out=$(b up -d 2>&1) || bt_fail "up again: $out"
out=$(b image rm -f "$IMG" 2>&1) || bt_fail "image rm -f: $out"
if b image inspect "$IMG" >/dev/null 2>&1; then bt_fail "-f kept the image name"; fi
b down -t 1 >/dev/null 2>&1 || bt_fail "down after rm -f"
assert_nothing_left "after the last down"
exit 0
