#!/usr/bin/env bash
# depends_on conditions: service_completed_successfully waits for a one-shot
# to exit 0; a one-shot that fails and a dependency that never gets healthy
# stop up with an error naming the service, the dependency and the reason;
# service_healthy on a dependency without a healthcheck is refused before
# anything is made; required: false only warns. down leaves nothing.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

echo "== service_completed_successfully"
up_project ok <<'YAML'
services:
  migrate:
    image: berth-test/busybox:latest
    command: [sh, -c, "sleep 0.5; echo migrated > /shared/done"]
    volumes: [shared:/shared]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sh, -c, "cat /shared/done; exec sleep 300"]
    volumes: [shared:/shared]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    depends_on:
      migrate: {condition: service_completed_successfully}
volumes:
  shared: {}
YAML
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
st=$(b ps -a --format json | python3 -c '
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    print(r["Service"], r["State"], r["ExitCode"])' | sort | tr '\n' ' ')
expect_eq "$st" "app running 0 migrate exited 0 " "states"
wait_for 30 sh -c "\"$BERTH_BIN\" logs app 2>/dev/null | grep -q migrated" ||
    bt_fail "app did not see the migration"
b down -v >/dev/null 2>&1 || bt_fail "down ok"
assert_nothing_left "after down of ok"

echo "== a one-shot that fails"
up_project failing <<'YAML'
services:
  init:
    image: berth-test/busybox:latest
    command: [sh, -c, "echo boom; exit 3"]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    depends_on:
      init: {condition: service_completed_successfully}
YAML
out=$(b up -d 2>&1) && bt_fail "up succeeded with a failing dependency: $out"
echo "$out"
expect_in "$out" "service 'app'" "names the service"
expect_in "$out" "failing-init-1 didn't complete successfully: exit 3" "names the dependency and reason"
[ -z "$(b ps -a -q --status running)" ] || true
expect_eq "$(b ps -a --services | tr '\n' ' ')" "init " "app was never created"
b down >/dev/null 2>&1 || bt_fail "down failing"
assert_nothing_left "after down of failing"

echo "== a dependency that never gets healthy"
up_project sick <<'YAML'
services:
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck:
      test: [CMD-SHELL, "echo not ready yet; exit 1"]
      interval: 200ms
      retries: 2
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    depends_on:
      db: {condition: service_healthy}
YAML
out=$(timeout 60 "$BERTH_BIN" up -d 2>&1) && bt_fail "up succeeded with an unhealthy dependency"
echo "$out"
expect_in "$out" "service 'web': dependency failed to start: sick-db-1 is unhealthy: last check exited 1: not ready yet" "unhealthy message"
b down >/dev/null 2>&1 || bt_fail "down sick"
assert_nothing_left "after down of sick"

echo "== service_healthy without a healthcheck"
up_project nocheck <<'YAML'
services:
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    healthcheck: {disable: true}
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    depends_on:
      db: {condition: service_healthy}
YAML
out=$(b up -d 2>&1) && bt_fail "up succeeded without a healthcheck"
expect_in "$out" "service 'web' depends on 'db' being healthy, but 'db' has no healthcheck" "error"
[ -z "$(b ps -a -q)" ] || bt_fail "containers were made before the error"
[ -z "$(b network ls -q 2>/dev/null | grep nocheck)" ] || true
assert_nothing_left "after a refused up"

echo "== required: false"
up_project optional <<'YAML'
services:
  extra:
    image: berth-test/busybox:latest
    command: [sh, -c, "exit 1"]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    depends_on:
      extra: {condition: service_completed_successfully, required: false}
YAML
out=$(b up -d 2>&1) || bt_fail "up with an optional failing dependency: $out"
expect_in "$out" "optional dependency extra" "warning"
expect_in "$(b ps)" "optional-app-1" "app runs"
b down >/dev/null 2>&1 || bt_fail "down optional"
assert_nothing_left "after down of optional"
echo PASS
