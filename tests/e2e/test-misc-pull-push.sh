#!/usr/bin/env bash
# berth push and pull of a project's service images against Debian's
# docker-registry on loopback: push takes the services that have a build
# section, pull fetches every service's image in parallel, honours
# pull_policy and --policy missing, reports a failure with the service, and
# outside a project `berth pull REF` and `berth images` are the image
# store's commands.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u
BT_TMP=$BERTH_TEST_TMP
fx=$BERTH_SOURCE_DIR/tests/fixtures/image
. "$fx/registry.sh"
command -v docker-registry >/dev/null || bt_skip "needs docker-registry"
b() { "$BERTH_BIN" "$@"; }

bash "$fx/make-test-image.sh" "$BT_TMP/ti" berth-test/busybox:1 >/dev/null || bt_fail "test image"
img_registry_start main 127.0.0.1:5000
b load -q -i "$BT_TMP/ti/image.tar" >/dev/null || bt_fail "load"
b tag berth-test/busybox:1 localhost:5000/demo/app:1 || bt_fail "tag"
b tag berth-test/busybox:1 localhost:5000/demo/web:2 || bt_fail "tag"

P=$BT_TMP/demo
mkdir -p "$P"
cat >"$P/compose.yaml" <<'YAML'
services:
  app:
    image: localhost:5000/demo/app:1
    build: .
  web:
    image: localhost:5000/demo/web:2
    build: .
  cache:
    image: localhost:5000/demo/app:1
    pull_policy: missing
  local:
    image: berth-test/busybox:1
    pull_policy: never
  tool:
    build: .
YAML
cd "$P"

echo "== push: services with a build section and an image"
out=$(b --ansi never push 2>&1) || bt_fail "push: $out"
bt_contains "$out" "Image localhost:5000/demo/app:1  Pushed"
bt_contains "$out" "Image localhost:5000/demo/web:2  Pushed"
bt_contains "$out" " local  Skipped"
curl -sf http://127.0.0.1:5000/v2/demo/app/tags/list | grep -q '"1"' || bt_fail "app:1 not in the registry"
curl -sf http://127.0.0.1:5000/v2/demo/web/tags/list | grep -q '"2"' || bt_fail "web:2 not in the registry"

echo "== pull into an empty store: both images, in parallel, local skipped"
b rmi localhost:5000/demo/app:1 localhost:5000/demo/web:2 >/dev/null || bt_fail "rmi"
out=$(b --ansi never pull 2>&1) || bt_fail "pull: $out"
# shown as Compose shows them: under the first service using each image
bt_contains "$out" " app  Pulled"
bt_contains "$out" " web  Pulled"
bt_contains "$out" " cache  Skipped - Image is already being pulled by app"
bt_contains "$out" " local  Skipped"
b image inspect localhost:5000/demo/web:2 >/dev/null || bt_fail "web:2 not in the store after pull"
b image inspect localhost:5000/demo/app:1 >/dev/null || bt_fail "app:1 not in the store after pull"

echo "== one service; --policy missing skips what is there; -q is silent"
out=$(b --ansi never pull web 2>&1) || bt_fail "pull web"
bt_contains "$out" " web  Pulled"
case "$out" in *app*) bt_fail "pull web pulled app: $out" ;; esac
out=$(b --ansi never pull --policy missing 2>&1) || bt_fail "pull --policy missing"
case "$out" in *Pulled*) bt_fail "--policy missing pulled again: $out" ;; esac
[ -z "$(b pull -q 2>&1)" ] || bt_fail "pull -q printed something"

echo "== a failure names the image and the service; --ignore-pull-failures goes on"
cat >"$P/compose.yaml" <<'YAML'
services:
  ok:
    image: localhost:5000/demo/app:1
  broken:
    image: localhost:5000/demo/missing:1
YAML
out=$(b --ansi never pull 2>&1)
[ $? = 1 ] || bt_fail "a failed pull succeeded"
bt_contains "$out" "localhost:5000/demo/missing:1 (service broken)"
bt_contains "$out" " ok  Pulled"
b pull --ignore-pull-failures >/dev/null 2>&1 || bt_fail "--ignore-pull-failures failed"
out=$(b pull nosuch 2>&1)
[ $? = 1 ] || bt_fail "pull of an unknown service"
bt_contains "$out" "no such service: nosuch"

echo "== outside a project: pull REF and images are the image store's"
cd "$BT_TMP"
b rmi localhost:5000/demo/web:2 >/dev/null
b pull -q localhost:5000/demo/web:2 >/dev/null || bt_fail "berth pull REF outside a project"
bt_contains "$(b images)" "localhost:5000/demo/web"
b image pull -q localhost:5000/demo/web:2 >/dev/null || bt_fail "berth image pull REF"
echo PASS
