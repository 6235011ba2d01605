#!/usr/bin/env bash
# berth run: a one-off container PROJECT-SERVICE-run-ID labelled
# oneoff=True with no restart policy; dependencies started first unless
# --no-deps; exit code passed through; --rm, -e, --entrypoint, -u, -w, -v,
# -p, --service-ports, --name, -d; 127 when the command does not exist; a
# signal to an attached run reaches the container; nothing left after down.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["127.0.0.1:18081:8080"]
    environment: {FROM_FILE: "yes"}
    restart: always
    stop_grace_period: 1s
    depends_on: [db]
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
YAML
fetch() { timeout 5 wget -qO- "http://127.0.0.1:$1/"; }
run_containers() { b container ls -a --format '{{.Names}}' 2>/dev/null || b container ls -a; }

echo "== run --rm: output, environment, exit code; the dependency runs first"
out=$(b --ansi never run --rm -T -e EXTRA=x web sh -c 'echo "hi $FROM_FILE $EXTRA"; exit 7' 2>"$BERTH_TEST_TMP/err")
rc=$?
expect_eq "$rc" 7 "exit code of run"
expect_eq "$out" "hi yes x" "output of run"
expect_in "$(cat "$BERTH_TEST_TMP/err")" "Container demo-db-1  Started" "db started for run"
expect_eq "$(b container inspect -f '{{.State.Status}}' demo-db-1)" running "db state"
expect_not_in "$(b container ls -a)" "demo-web-run-" "run --rm left its container"

echo "== run -d: name, labels, no restart policy, no ports unless asked"
name=$(b run -d web sleep 30 2>/dev/null) || bt_fail "run -d"
[[ $name =~ ^demo-web-run-[0-9a-f]{12}$ ]] || bt_fail "one-off name: '$name'"
labels=$(b container inspect -f '{{json .Config.Labels}}' "$name")
expect_in "$labels" '"com.docker.compose.oneoff":"True"' "oneoff label"
expect_in "$labels" '"com.docker.compose.service":"web"' "service label"
expect_in "$labels" '"com.docker.compose.project":"demo"' "project label"
expect_eq "$(b container inspect -f '{{.HostConfig.RestartPolicy}}' "$name")" no "restart policy"
fetch 18081 >/dev/null 2>&1 && bt_fail "a run container published the service's port"
expect_not_in "$(b ps --format json)" "$name" "ps lists a one-off container"

echo "== --service-ports and -p publish"
b run -d --name svcports --service-ports web >/dev/null 2>&1 || bt_fail "run --service-ports"
wait_for 50 fetch 18081 || bt_fail "--service-ports: nothing answers on 18081"
expect_in "$(fetch 18081)" "berth" "page through --service-ports"
b run -d --name published -p 127.0.0.1:18082:8080 web >/dev/null 2>&1 || bt_fail "run -p"
wait_for 50 fetch 18082 || bt_fail "-p: nothing answers on 18082"

echo "== --entrypoint, -u, -w, -v"
expect_eq "$(b run --rm -T --no-deps --entrypoint echo web hello there)" "hello there" "--entrypoint"
expect_eq "$(b run --rm -T --no-deps -u app -w /tmp web sh -c 'echo $(id -u) $(pwd)')" "1000 /tmp" "-u -w"
mkdir -p out
b run --rm -T --no-deps -v ./out:/out web sh -c 'echo saved > /out/f' || bt_fail "run -v"
expect_eq "$(cat out/f)" saved "file written through -v"

echo "== a missing command: 127 and no container left"
b run --rm -T --no-deps web /no/such/program 2>"$BERTH_TEST_TMP/err"
expect_eq "$?" 127 "exit code of a missing program"
expect_in "$(cat "$BERTH_TEST_TMP/err")" "/no/such/program" "error names the program"
expect_eq "$(b container ls -a | grep -c demo-web-run-)" 1 "containers named demo-web-run- (only the -d one)"

echo "== a signal to an attached run goes to the container"
"$BERTH_BIN" run --rm -T --no-deps web sh -c 'trap "echo got TERM; exit 5" TERM; echo ready; while :; do sleep 0.1; done' \
    >"$BERTH_TEST_TMP/sig.out" 2>/dev/null &
pid=$!
wait_for 100 grep -q ready "$BERTH_TEST_TMP/sig.out" || bt_fail "the attached run did not start"
kill -TERM $pid
wait $pid
expect_eq "$?" 5 "exit code after SIGTERM"
expect_in "$(cat "$BERTH_TEST_TMP/sig.out")" "got TERM" "the container saw the signal"

echo "== unknown service, usage"
out=$(b run nosuch true 2>&1)
expect_eq "$?" 1 "unknown service"
expect_in "$out" "no such service: nosuch" "unknown service message"
b run >/dev/null 2>&1
expect_eq "$?" 2 "run without a service"

echo "== --no-deps after down: the dependency stays down"
b down -t 1 >/dev/null 2>&1 || bt_fail "down"
for c in "$name" svcports published; do
    b container inspect "$c" >/dev/null 2>&1 && bt_fail "down left the one-off container $c"
done
assert_nothing_left "after down"
expect_eq "$(b run --rm -T --no-deps web echo alone)" alone "run --no-deps"
b container inspect demo-db-1 >/dev/null 2>&1 && bt_fail "--no-deps started db"
b down >/dev/null 2>&1
assert_nothing_left "at the end"
echo PASS
