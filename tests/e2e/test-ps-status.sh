#!/usr/bin/env bash
# ps: only running containers by default, -a for all, STATUS as Docker
# words it (Up .., Exited (N) .. ago, Created, (Paused), (healthy)),
# --status and --filter status=, -q, --services, --format json; ls lists
# projects with their states, -a includes stopped ones, -q and json.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project shop <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    ports: ["127.0.0.1:18090:8080", "127.0.0.1::9090"]
    healthcheck: {test: [CMD, "true"], interval: 200ms}
  job:
    image: berth-test/busybox:latest
    command: [sh, -c, "exit 3"]
    healthcheck: {disable: true}
  idle:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    healthcheck: {disable: true}
YAML
b create idle >/dev/null 2>&1 || bt_fail "create idle"
b up -d --wait web >/dev/null 2>&1 || bt_fail "up web"
b up -d --no-deps job >/dev/null 2>&1 || bt_fail "up job"
wait_for 50 sh -c "\"$BERTH_BIN\" ps -a | grep -q 'Exited (3)'" || bt_fail "job did not exit"

out=$(b ps)
echo "$out"
expect_in "$out" "shop-web-1" "running shown"
expect_not_in "$out" "shop-job-1" "exited hidden without -a"
echo "$out" | grep shop-web-1 | grep -Eq "Up [0-9a-zA-Z ]+ \(healthy\)" || bt_fail "web STATUS: $out"
expect_in "$out" "127.0.0.1:18090->8080/tcp" "fixed port"
echo "$out" | grep shop-web-1 | grep -Eq "127\.0\.0\.1:[0-9]+->9090/tcp" || bt_fail "ephemeral port: $out"
out=$(b ps -a)
echo "$out" | grep shop-job-1 | grep -Eq "Exited \(3\) [0-9a-zA-Z ]+ ago" || bt_fail "job STATUS: $out"
echo "$out" | grep shop-idle-1 | grep -q "Created" || bt_fail "idle STATUS: $out"
expect_eq "$(b ps --status exited --services)" "job" "--status exited"
expect_eq "$(b ps --filter status=created --services)" "idle" "--filter status=created"
expect_eq "$(b ps -a -q | wc -l)" 3 "-a -q"
out=$(b ps --status nonsense 2>&1) && bt_fail "a bad status was accepted"
expect_in "$out" "invalid status 'nonsense'" "bad status"
b ps -a --format json | python3 -c '
import json, sys
rows = {json.loads(l)["Service"]: json.loads(l) for l in sys.stdin}
assert rows["job"]["ExitCode"] == 3 and rows["job"]["State"] == "exited", rows["job"]
assert rows["web"]["Health"] == "healthy", rows["web"]
assert rows["web"]["Labels"]["com.docker.compose.project"] == "shop"
' || bt_fail "ps --format json"
b pause web >/dev/null 2>&1 || bt_fail "pause"
expect_in "$(b ps)" "(Paused)" "paused"
b unpause web >/dev/null 2>&1 || bt_fail "unpause"

echo "== ls"
out=$(b ls)
echo "$out"
expect_in "$out" "shop" "ls name"
expect_in "$out" "running(1)" "ls running"
expect_in "$out" "exited(1)" "ls exited"
expect_in "$out" "$P/compose.yaml" "ls config files"
b ls --format json | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d[0]["Name"] == "shop", d' || bt_fail "ls json"
b stop >/dev/null 2>&1 || bt_fail "stop"
expect_eq "$(b ls -q)" "" "ls without -a hides a stopped project"
expect_eq "$(b ls -a -q)" "shop" "ls -a"
b down >/dev/null 2>&1 || bt_fail "down"
expect_eq "$(b ls -a -q)" "" "ls after down"
assert_nothing_left
echo PASS
