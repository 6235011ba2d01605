#!/usr/bin/env bash
# Two berth commands on one project at once are serialised: concurrent
# `up -d`s both succeed and make each container once; a `down` started
# during an `up` waits for it and then removes everything.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  a: {image: berth-test/busybox:latest, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"], healthcheck: {disable: true}}
  b: {image: berth-test/busybox:latest, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"], healthcheck: {disable: true}}
  c: {image: berth-test/busybox:latest, command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"], healthcheck: {disable: true}}
YAML
for round in 1 2 3; do
    "$BERTH_BIN" up -d >"$BERTH_TEST_TMP/up1.log" 2>&1 &
    p1=$!
    "$BERTH_BIN" up -d >"$BERTH_TEST_TMP/up2.log" 2>&1 &
    p2=$!
    wait $p1 || bt_fail "round $round: first up failed: $(cat "$BERTH_TEST_TMP/up1.log")"
    wait $p2 || bt_fail "round $round: second up failed: $(cat "$BERTH_TEST_TMP/up2.log")"
    expect_eq "$(b ps -q | wc -l)" 3 "round $round: containers"
    "$BERTH_BIN" up -d --force-recreate >/dev/null 2>&1 &
    p1=$!
    sleep 0.05
    b down >/dev/null 2>&1 || bt_fail "round $round: down during up"
    wait $p1
    [ -z "$(b ps -a -q)" ] || bt_fail "round $round: containers after down: $(b ps -a)"
    assert_nothing_left "round $round"
done
echo PASS
