#!/usr/bin/env bash
# down: dependents stop before what they depend on, independent services in
# parallel, each with its own stop signal and grace period (-t overrides);
# --rmi all removes the services' images; 20 independent services go up and
# down in one step each and leave nothing, not even the project's lock file,
# and a command waiting on a lock file that down removes locks the new one.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'echo web stopping; sleep 0.5; exit 0' USR1; while :; do sleep 0.1; done"]
    stop_signal: SIGUSR1
    healthcheck: {disable: true}
    depends_on: [api]
  api:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    healthcheck: {disable: true}
    depends_on: [db]
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 30s
    healthcheck: {disable: true}
YAML
b up -d >/dev/null 2>&1 || bt_fail "up"
start=$(date +%s%N)
out=$(b down -t 1 2>&1) || bt_fail "down: $out"
ms=$((($(date +%s%N) - start) / 1000000))
echo "$out"
line() { echo "$out" | grep -n "$1" | head -1 | cut -d: -f1; }
[ "$(line 'demo-web-1  Stopped')" -lt "$(line 'demo-api-1  Stopping')" ] || bt_fail "api stopped before web"
[ "$(line 'demo-api-1  Stopped')" -lt "$(line 'demo-db-1  Stopping')" ] || bt_fail "db stopped before api"
# db ignores SIGTERM (sleep as PID 1): -t 1 bounds its grace to a second
[ "$ms" -lt 10000 ] || bt_fail "down -t 1 took ${ms}ms"
assert_nothing_left "after ordered down"
lockf=$BERTH_RUNROOT/compose/demo.lock
[ ! -e "$lockf" ] || bt_fail "the project's lock file is left after down"

echo "== 20 independent services"
{
    echo "services:"
    for i in $(seq 1 20); do
        printf '  s%02d:\n    image: berth-test/busybox:latest\n' "$i"
        printf '    command: [sh, -c, "trap '"'"'exit 0'"'"' TERM; while :; do sleep 0.1; done"]\n'
        printf '    healthcheck: {disable: true}\n'
    done
} >compose.yaml
start=$(date +%s%N)
b up -d >/dev/null 2>&1 || bt_fail "up of 20"
up_ms=$((($(date +%s%N) - start) / 1000000))
expect_eq "$(b ps -q | wc -l)" 20 "20 running"
start=$(date +%s%N)
b down >/dev/null 2>&1 || bt_fail "down of 20"
down_ms=$((($(date +%s%N) - start) / 1000000))
echo "20 services: up -d ${up_ms}ms, down ${down_ms}ms"
assert_nothing_left "after 20 services"

echo "== --rmi all"
b up -d s01 >/dev/null 2>&1 || bt_fail "up s01"
out=$(b down --rmi all 2>&1) || bt_fail "down --rmi all: $out"
expect_in "$out" "Image berth-test/busybox:latest  Removed" "image removed"
[ -z "$(b images -q 2>/dev/null)" ] || bt_fail "image left: $(b images)"
assert_nothing_left "after --rmi all"
[ ! -e "$lockf" ] || bt_fail "the project's lock file is left after down --rmi all"

echo "== a lock file removed while an up waits on it"
up_image
# Another holder locks the project's file, and removes it as down does; the
# up that waited on the removed file must lock the file now at the path, so
# that a later command is serialised with it.
mkdir -p "$BERTH_RUNROOT/compose"
: >"$lockf"
flock "$lockf" sh -c "sleep 1; rm -f '$lockf'" &
holder=$!
sleep 0.3
b up -d s01 >/dev/null 2>&1 &
up=$!
sleep 0.3
[ -e "/proc/$up" ] || bt_fail "up did not wait for the project's lock"
wait "$holder"
wait "$up" || bt_fail "up after the lock file was removed"
[ -e "$lockf" ] || bt_fail "up holds a lock on a removed file"
flock -n "$lockf" true || bt_fail "the project's lock is still held after up"
expect_eq "$(b ps -q | wc -l)" 1 "s01 running"
b down >/dev/null 2>&1 || bt_fail "down of s01"
[ ! -e "$lockf" ] || bt_fail "the project's lock file is left after the last down"
assert_nothing_left "after the lock file test"
echo PASS
