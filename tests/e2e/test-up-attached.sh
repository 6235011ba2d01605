#!/usr/bin/env bash
# Attached up: prefixed log lines; Ctrl-C (SIGINT to berth) stops the
# project gracefully with a message; --exit-code-from passes a container's
# exit code through; --wait counts a one-shot that exited 0 as done and
# fails on one that did not.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

echo "== Ctrl-C during attached up"
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'echo web got TERM; exit 0' TERM; echo web is up; while :; do sleep 0.1; done"]
    healthcheck: {disable: true}
  worker:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'echo worker got TERM; exit 0' TERM; echo worker is up; while :; do sleep 0.1; done"]
    healthcheck: {disable: true}
YAML
log=$BERTH_TEST_TMP/attached.log
"$BERTH_BIN" up >"$log" 2>&1 &
pid=$!
wait_for 100 grep -q "worker-1 | worker is up" "$log" || bt_fail "no prefixed line: $(cat "$log")"
wait_for 100 grep -q "web-1    | web is up" "$log" || bt_fail "no web line: $(cat "$log")"
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; bt_fail "berth up did not stop after Ctrl-C"; }
wait $pid
rc=$?
cat "$log"
expect_eq "$rc" 130 "exit code after Ctrl-C"
expect_in "$(cat "$log")" "Gracefully stopping... (press Ctrl+C again to force)" "message"
expect_in "$(cat "$log")" "web got TERM" "web stopped by its signal"
expect_in "$(cat "$log")" "worker got TERM" "worker stopped by its signal"
expect_in "$(cat "$log")" "demo-web-1 exited with code 0" "exit line"
[ -z "$(b ps -q)" ] || bt_fail "containers still running after Ctrl-C"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after Ctrl-C and down"

echo "== lines of several containers in the order they were written"
up_project order <<'YAML'
services:
  a:
    image: berth-test/busybox:latest
    command: [sh, -c, "until [ -e /s/go ]; do :; done; echo one; sleep 0.06; echo three"]
    volumes: [s:/s]
    healthcheck: {disable: true}
  b:
    image: berth-test/busybox:latest
    command: [sh, -c, "until [ -e /s/go ]; do :; done; sleep 0.03; echo two; sleep 0.06; echo four"]
    volumes: [s:/s]
    healthcheck: {disable: true}
volumes:
  s: {}
YAML
log=$BERTH_TEST_TMP/order.log
"$BERTH_BIN" up >"$log" 2>&1 &
pid=$!
wait_for 100 grep -q "Attaching to" "$log" || bt_fail "up did not attach: $(cat "$log")"
touch "$BERTH_ROOT/volumes/order_s/_data/go"
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; bt_fail "up did not end when its containers exited"; }
wait $pid || bt_fail "attached up failed: $(cat "$log")"
got=$(grep -E '^[ab]-1 +\| ' "$log" | sed 's/.*| //' | tr '\n' ' ')
expect_eq "$got" "one two three four " "arrival order"
b down -v >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after the order check"

echo "== Ctrl-C while up is still starting the project"
up_project early <<'YAML'
services:
  db:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    healthcheck: {test: [CMD, "false"], interval: 200ms, retries: 1000}
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    depends_on:
      db: {condition: service_healthy}
YAML
log=$BERTH_TEST_TMP/early.log
"$BERTH_BIN" up >"$log" 2>&1 &
pid=$!
wait_for 100 grep -q "early-db-1  Waiting" "$log" || bt_fail "db not waited on: $(cat "$log")"
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; bt_fail "up did not end after Ctrl-C during start"; }
wait $pid
rc=$?
cat "$log"
expect_eq "$rc" 130 "exit code"
expect_in "$(cat "$log")" "Interrupted; stopping what was started" "message"
expect_eq "$(b ps -a --services | tr '\n' ' ')" "db " "web was never created"
[ -z "$(b ps -q)" ] || bt_fail "db still running after an interrupted up"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after an interrupted up"

echo "== a second Ctrl-C kills"
up_project stubborn <<'YAML'
services:
  stubborn:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap '' TERM; echo ignoring TERM; while :; do sleep 0.1; done"]
    stop_grace_period: 60s
    healthcheck: {disable: true}
YAML
log=$BERTH_TEST_TMP/stubborn.log
"$BERTH_BIN" up >"$log" 2>&1 &
pid=$!
wait_for 100 grep -q "ignoring TERM" "$log" || bt_fail "stubborn did not start: $(cat "$log")"
kill -INT $pid
wait_for 50 grep -q "Gracefully stopping" "$log" || bt_fail "no graceful stop message"
sleep 0.5
kill -INT $pid
for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
kill -0 $pid 2>/dev/null && { kill -KILL $pid; bt_fail "second Ctrl-C did not end berth up"; }
wait $pid
cat "$log"
expect_in "$(cat "$log")" "Container stubborn-stubborn-1  Killed" "killed"
[ -z "$(b ps -q)" ] || bt_fail "still running after the second Ctrl-C"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after a forced stop"

echo "== --abort-on-container-failure"
up_project failure <<'YAML'
services:
  ok:
    image: berth-test/busybox:latest
    command: [sh, -c, "exit 0"]
    healthcheck: {disable: true}
  bad:
    image: berth-test/busybox:latest
    command: [sh, -c, "sleep 0.5; exit 2"]
    healthcheck: {disable: true}
  server:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    healthcheck: {disable: true}
YAML
out=$(timeout 60 "$BERTH_BIN" up --abort-on-container-failure 2>&1)
rc=$?
echo "$out"
expect_eq "$rc" 2 "exit code of the failed container"
expect_in "$out" "failure-ok-1 exited with code 0" "a clean exit does not abort"
expect_in "$out" "failure-bad-1 exited with code 2" "failure"
[ -z "$(b ps -q)" ] || bt_fail "server still running"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after --abort-on-container-failure"

echo "== --exit-code-from"
up_project exitcode <<'YAML'
services:
  test:
    image: berth-test/busybox:latest
    command: [sh, -c, "echo testing; sleep 0.3; exit 7"]
    healthcheck: {disable: true}
  server:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML
out=$(timeout 60 "$BERTH_BIN" up --exit-code-from test 2>&1)
rc=$?
echo "$out"
expect_eq "$rc" 7 "exit code from test"
expect_in "$out" "test-1   | testing" "test output"
expect_in "$out" "Aborting on container exit..." "abort message"
[ -z "$(b ps -q)" ] || bt_fail "server still running after --exit-code-from"
out=$(timeout 60 "$BERTH_BIN" up --no-log-prefix --timestamps --attach test --exit-code-from test 2>&1)
echo "$out" | grep -Eq '^20[0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9:.]+Z testing$' ||
    bt_fail "--no-log-prefix --timestamps: $out"
expect_not_in "$out" "Attaching to exitcode-server-1" "--attach test only"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after --exit-code-from"

echo "== --wait with a one-shot service"
up_project waiting <<'YAML'
services:
  setup:
    image: berth-test/busybox:latest
    command: [sh, -c, "sleep 0.3; exit 0"]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, "true"]
      interval: 200ms
YAML
out=$(timeout 60 "$BERTH_BIN" up -d --wait 2>&1) || bt_fail "--wait failed: $out"
expect_in "$(b ps)" "(healthy)" "app healthy when --wait returned"
expect_in "$(b ps -a)" "Exited (0)" "setup exited 0"
b down >/dev/null 2>&1 || bt_fail "down"
cat >compose.yaml <<'YAML'
services:
  setup:
    image: berth-test/busybox:latest
    command: [sh, -c, "exit 4"]
    healthcheck: {disable: true}
YAML
out=$(timeout 60 "$BERTH_BIN" up --wait 2>&1) && bt_fail "--wait succeeded with a failing one-shot"
expect_in "$out" "waiting-setup-1 exited (4)" "--wait failure"
b down >/dev/null 2>&1 || bt_fail "down"
cat >compose.yaml <<'YAML'
services:
  slow:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {test: [CMD, "false"], interval: 200ms, retries: 1000}
YAML
start=$(date +%s)
out=$(timeout 60 "$BERTH_BIN" up -d --wait --wait-timeout 1 2>&1) && bt_fail "--wait-timeout did not fire"
expect_in "$out" "timed out waiting for the services to be running and healthy" "--wait-timeout"
[ $(($(date +%s) - start)) -lt 10 ] || bt_fail "--wait-timeout 1 took too long"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after --wait"
echo PASS
