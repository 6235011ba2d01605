#!/usr/bin/env bash
# The quickstart example as `make demo` runs it: the image made offline,
# up -d, ps, the page and the backend's data through the published port;
# a second run keeps the image and the containers; then down -v leaves
# nothing behind. A failed or badly called demo leaves nothing either.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
[ -x /bin/busybox ] || bt_skip "needs busybox-static"
cp -r "$BERTH_SOURCE_DIR/examples" "$BERTH_TEST_TMP/examples"
out=$(WEB_PORT=18081 bash "$BERTH_TEST_TMP/examples/demo.sh" "$BERTH_BIN" 2>&1) ||
    bt_fail "demo failed: $out"
echo "$out"
expect_in "$out" "Hello from berth" "page"
expect_in "$out" "quickstart-web-1" "ps"
expect_in "$out" "(healthy)" "clock healthy"
expect_in "$out" "stays up until you stop it" "how to stop"
expect_in "$(timeout 5 wget -qO- http://127.0.0.1:18081/data/now.txt)" "UTC" "the backend's data"
cd "$BERTH_TEST_TMP/examples/quickstart" || bt_fail "cd"

echo "== make demo again: the image and the running containers are kept"
ids=$(b ps -q | sort)
[ -n "$ids" ] || bt_fail "no containers after the demo"
out=$(WEB_PORT=18081 bash "$BERTH_TEST_TMP/examples/demo.sh" "$BERTH_BIN" 2>&1) ||
    bt_fail "second demo failed: $out"
expect_in "$out" "berth-quickstart/busybox:latest is there already" "image kept"
expect_in "$out" "Hello from berth" "page again"
expect_eq "$(b ps -q | sort)" "$ids" "containers kept (not recreated)"
out=$(b down -v 2>&1) || bt_fail "down -v: $out"
assert_nothing_left
[ -z "$(b volume ls -q)" ] || bt_fail "volumes left: $(b volume ls -q)"

echo "== a failure half-way leaves nothing: the port is taken"
python3 -c 'import socket,time; s=socket.socket(); s.bind(("127.0.0.1",18082)); s.listen(); time.sleep(30)' &
holder=$!
sleep 0.3
out=$(WEB_PORT=18082 bash "$BERTH_TEST_TMP/examples/demo.sh" "$BERTH_BIN" 2>&1) &&
    bt_fail "demo succeeded on a taken port"
kill $holder
expect_in "$out" "removing what was started" "cleanup message"
expect_in "$out" "18082" "names the port"
expect_in "$out" "WEB_PORT=" "says how to pick another port"
assert_nothing_left "after a failed demo"

echo "== bad input: no berth program, a port that is no number"
out=$(bash "$BERTH_TEST_TMP/examples/demo.sh" /nonexistent/berth 2>&1) && bt_fail "demo ran without berth"
expect_in "$out" "no berth program at '/nonexistent/berth'" "missing berth"
out=$(WEB_PORT=80x bash "$BERTH_TEST_TMP/examples/demo.sh" "$BERTH_BIN" 2>&1) && bt_fail "demo took port 80x"
expect_in "$out" "WEB_PORT must be a port number" "bad port"
assert_nothing_left "after bad input"
echo PASS
