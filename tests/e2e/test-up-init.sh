#!/usr/bin/env bash
# init: true runs berth's init as PID 1 with the service's command as its
# child: a stop's SIGTERM is forwarded to the command (which exits by its
# own trap, well before the grace period), and orphans are reaped, where a
# service without init leaves them as zombies.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  term:
    image: berth-test/busybox:latest
    init: true
    command: [sh, -c, 'trap "echo got-term; exit 0" TERM; echo ready; while :; do sleep 0.1; done']
    stop_grace_period: 20s
  reap:
    image: berth-test/busybox:latest
    init: true
    command: [sh, -c, '(sleep 0.1 &); (sleep 0.1 &); exec sleep 300']
    stop_grace_period: 1s
  noreap:
    image: berth-test/busybox:latest
    command: [sh, -c, '(sleep 0.1 &); (sleep 0.1 &); exec sleep 300']
    stop_grace_period: 1s
YAML

b up -d >"$BERTH_TEST_TMP/up" 2>&1 || bt_fail "up: $(cat "$BERTH_TEST_TMP/up")"
expect_not_in "$(cat "$BERTH_TEST_TMP/up")" "not supported" "up warned about init"
expect_eq "$(b container inspect -f "{{.HostConfig.Init}}" demo-term-1)" true "HostConfig.Init"
expect_eq "$(b container inspect -f "{{.HostConfig.Init}}" demo-noreap-1)" false "HostConfig.Init without init"
wait_for 100 sh -c "'$BERTH_BIN' logs term | grep -q ready" || bt_fail "term never got ready"

echo "== PID 1 is the init; the command is its child"
pid1=$(b exec -T term cat /proc/1/comm)
expect_eq "$pid1" "berth-monitor" "PID 1 of an init: true service"
# the shell running the service's command: its parent is PID 1
sh_ppid=$(b exec -T term sh -c 'for d in /proc/[0-9]*; do
    [ "$(cat $d/cmdline | tr "\0" " ")" = "sh -c trap \"echo got-term; exit 0\" TERM; echo ready; while :; do sleep 0.1; done " ] &&
    awk "/^PPid:/ {print \$2}" $d/status; done')
expect_eq "$sh_ppid" 1 "the command's parent"
expect_eq "$(b exec -T noreap cat /proc/1/comm)" "sleep" "PID 1 without init"

echo "== orphans are reaped by the init, not without it"
zombies() {
    b exec -T "$1" sh -c 'grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null | wc -l'
}
sleep 1
expect_eq "$(zombies reap)" 0 "zombies under init"
expect_eq "$(zombies noreap)" 2 "zombies without init (the test can see them)"

echo "== stop: SIGTERM reaches the command through the init"
start=$SECONDS
b stop term >/dev/null 2>&1 || bt_fail "stop term"
[ $((SECONDS - start)) -lt 10 ] || bt_fail "stop waited for the grace period: TERM not forwarded"
expect_in "$(b logs term)" "got-term" "the command's TERM trap ran"
expect_eq "$(b container inspect -f '{{.State.ExitCode}}' demo-term-1)" 0 "exit code after TERM"

b down -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo "ok"
