#!/usr/bin/env bash
# create, start, stop, restart, kill -s, pause, unpause, rm (-f, -s, -v) and
# wait on a project's containers, in dependency order where it matters.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  app:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'echo got HUP' HUP; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    volumes: [/scratch]
    healthcheck: {disable: true}
    depends_on: [db]
  db:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    healthcheck: {disable: true}
  job:
    image: berth-test/busybox:latest
    command: [sh, -c, "sleep 0.5; exit 5"]
    healthcheck: {disable: true}
YAML
state() { b ps -a --format json | python3 -c "
import json, sys
for l in sys.stdin:
    r = json.loads(l)
    if r['Service'] == '$1':
        print(r['State'])"; }

echo "== create makes containers without starting them"
out=$(b create 2>&1) || bt_fail "create: $out"
expect_eq "$(state app)" created "app after create"
expect_eq "$(state db)" created "db after create"

echo "== start: dependencies first"
out=$(b start 2>&1) || bt_fail "start: $out"
echo "$out"
db_l=$(echo "$out" | grep -n "demo-db-1  Started" | cut -d: -f1)
app_l=$(echo "$out" | grep -n "demo-app-1  Starting" | cut -d: -f1)
[ "$db_l" -lt "$app_l" ] || bt_fail "app started before db"
expect_eq "$(state app)" running "app after start"

echo "== wait prints the exit code"
out=$(timeout 30 "$BERTH_BIN" wait job)
rc=$?
expect_eq "$out" 5 "wait output"
expect_eq "$rc" 5 "wait exit code"

echo "== kill -s HUP reaches the process"
b kill -s HUP app >/dev/null 2>&1 || bt_fail "kill -s HUP"
wait_for 50 sh -c "\"$BERTH_BIN\" logs app | grep -q 'got HUP'" || bt_fail "HUP not delivered"
expect_eq "$(state app)" running "app after HUP"

echo "== pause and unpause"
b pause app >/dev/null 2>&1 || bt_fail "pause"
expect_eq "$(state app)" paused "after pause"
expect_in "$(b ps)" "(Paused)" "ps shows paused"
b unpause app >/dev/null 2>&1 || bt_fail "unpause"
expect_eq "$(state app)" running "after unpause"

echo "== stop: dependents first; restart"
out=$(b stop 2>&1) || bt_fail "stop: $out"
app_l=$(echo "$out" | grep -n "demo-app-1  Stopped" | cut -d: -f1)
db_l=$(echo "$out" | grep -n "demo-db-1  Stopping" | cut -d: -f1)
[ "$app_l" -lt "$db_l" ] || bt_fail "db stopped before app"
expect_eq "$(state app)" exited "app after stop"
[ -z "$(b ps -q)" ] || bt_fail "ps shows stopped containers without -a"
b restart db >/dev/null 2>&1 || bt_fail "restart"
expect_eq "$(state db)" running "db after restart"

echo "== rm: stopped only; -s stops first; -v removes anonymous volumes"
anon=$(b volume ls -q | wc -l)
[ "$anon" -ge 1 ] || bt_fail "no anonymous volume for /scratch"
out=$(b rm -f app 2>&1) || bt_fail "rm app: $out"
expect_in "$out" "demo-app-1  Removed" "rm"
[ "$(b volume ls -q | wc -l)" = "$anon" ] || bt_fail "rm without -v removed a volume"
b up -d --no-deps app >/dev/null 2>&1 || bt_fail "up app again"
out=$(b rm -f app 2>&1) || bt_fail "rm -f of a running container: $out"
expect_in "$out" "No stopped containers" "rm -f leaves a running container"
expect_eq "$(state app)" running "app after rm -f"
out=$(b rm -f -s -v 2>&1) || bt_fail "rm -f -s -v: $out"
expect_in "$out" "demo-db-1  Removed" "rm -s stops and removes db"
[ -z "$(b ps -a -q)" ] || bt_fail "containers left after rm -s"
[ "$(b volume ls -q | wc -l)" = 0 ] || bt_fail "rm -v left volumes: $(b volume ls -q)"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo PASS
