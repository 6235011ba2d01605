#!/usr/bin/env bash
# berth events: what happens to the project's containers while it runs
# (create, start, health_status, pause, unpause, die with the exit code,
# destroy), as text lines or --json objects, only for the named services;
# SIGTERM ends it cleanly.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, "true"]
      interval: 200ms
  idle:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
  job:
    image: berth-test/busybox:latest
    command: [sh, -c, "sleep 0.5; exit 3"]
YAML
# a frozen container would keep the sandbox from ending
thaw() { b unpause >/dev/null 2>&1; b down -t 0 >/dev/null 2>&1; }
BT_CLEANUP_HOOK=thaw
"$BERTH_BIN" events --json >"$BERTH_TEST_TMP/all.json" 2>&1 &
all=$!
"$BERTH_BIN" events job >"$BERTH_TEST_TMP/job.txt" 2>&1 &
job=$!
sleep 0.3
b up -d >/dev/null 2>&1 || bt_fail "up -d"
wait_for 50 sh -c "grep -q 'health_status: healthy' '$BERTH_TEST_TMP/all.json'" || bt_fail "no health event"
b pause idle >/dev/null 2>&1 || bt_fail "pause"
wait_for 30 grep -q '"action":"pause"' "$BERTH_TEST_TMP/all.json" || bt_fail "no pause event"
b unpause idle >/dev/null 2>&1 || bt_fail "unpause"
wait_for 30 grep -q '"action":"unpause"' "$BERTH_TEST_TMP/all.json" || bt_fail "no unpause event"
wait_for 50 sh -c "grep '\"action\":\"die\"' '$BERTH_TEST_TMP/all.json' | grep -q '\"exitCode\":3'" ||
    bt_fail "no die event with the job's exit code"
b down -t 1 >/dev/null 2>&1 || bt_fail "down"
wait_for 30 sh -c "[ \$(grep -c '\"action\":\"destroy\"' '$BERTH_TEST_TMP/all.json') = 3 ]" || bt_fail "destroy events"
kill -TERM $all $job
wait $all
expect_eq "$?" 0 "events exit code after SIGTERM"
wait $job

python3 - "$BERTH_TEST_TMP/all.json" <<'PY' || bt_fail "event stream: $(cat "$BERTH_TEST_TMP/all.json")"
import json, sys
evs = [json.loads(l) for l in open(sys.argv[1])]
def seq(service, want):
    got = [e["action"] for e in evs if e["service"] == service]
    it = iter(got)
    assert all(w in it for w in want), (service, got)
seq("web", ["create", "start", "health_status: healthy", "die", "destroy"])
seq("idle", ["create", "start", "pause", "unpause", "die", "destroy"])
seq("job", ["create", "start", "die", "destroy"])
e = evs[0]
assert e["type"] == "container" and len(e["id"]) == 64, e
assert e["attributes"]["name"].startswith("demo-"), e
assert e["attributes"]["image"] == "berth-test/busybox:latest", e
PY
out=$(cat "$BERTH_TEST_TMP/job.txt")
echo "$out"
expect_not_in "$out" "demo-web-1" "events job showed web"
echo "$out" | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8}\.[0-9]{6} container start [0-9a-f]{64} \(image=berth-test/busybox:latest, name=demo-job-1\)$' ||
    bt_fail "text event line"
expect_in "$out" "container die" "job die"
expect_in "$out" "exitCode=3" "job exit code"
assert_nothing_left
echo PASS
