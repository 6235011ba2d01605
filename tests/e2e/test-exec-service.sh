#!/usr/bin/env bash
# berth exec SERVICE CMD: output and exit code pass through, -e/-u/-w, a
# pty with -t and none by default off a terminal, stdin, --index, -d,
# 126/127 when the command cannot start, and clear errors for a stopped or
# unknown service.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u

R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" || bt_skip "no busybox rootfs"
b() { "$BERTH_BIN" "$@"; }
P=$BERTH_TEST_TMP/demo
mkdir -p "$P"
cat >"$P/compose.yaml" <<'YAML'
services:
  web:
    image: busybox
  db:
    image: busybox
YAML
cd "$P"
svc() { # svc SERVICE NUMBER [container run options...] -- COMMAND...
    local s=$1 n=$2
    shift 2
    b container run -d --name "demo-$s-$n" --rootfs "$R" \
        -l com.docker.compose.project=demo -l com.docker.compose.service="$s" \
        -l com.docker.compose.container-number="$n" -l com.docker.compose.oneoff=False "$@" >/dev/null ||
        bt_fail "could not start demo-$s-$n"
}
svc web 1 -e N=1 -- sleep 300
svc web 2 -e N=2 -- sleep 300
svc db 1 sh -c 'exit 0'
b container wait demo-db-1 >/dev/null

echo "== output and exit code"
out=$(b exec web sh -c 'echo hello; exit 3' </dev/null)
rc=$?
[ "$out" = hello ] || bt_fail "output: $out"
[ $rc = 3 ] || bt_fail "exit code $rc, expected 3"

echo "== -e, -u, -w; -e KEY takes berth's environment"
out=$(FROM_HOST=yes b exec -T -e X=1 -e FROM_HOST -e UNSET_HERE -u app -w /tmp web \
    sh -c 'echo "$(id -u) X=$X FROM_HOST=$FROM_HOST unset=${UNSET_HERE-none} $(pwd) N=$N"')
[ "$out" = "1000 X=1 FROM_HOST=yes unset=none /tmp N=1" ] || bt_fail "env/user/workdir: $out"

echo "== a pty with -t; none by default when stdin is not a terminal; stdin passes"
bt_contains "$(b exec -t web sh -c '[ -t 0 ] && [ -t 1 ] && tty' </dev/null)" "/dev/pts/"
[ "$(b exec web sh -c '[ -t 1 ] || echo notty' </dev/null)" = notty ] || bt_fail "pty without a terminal"
[ "$(echo data from stdin | b exec -T web cat)" = "data from stdin" ] || bt_fail "stdin"

echo "== --index picks the container"
[ "$(b exec --index 2 web sh -c 'echo $N' </dev/null)" = 2 ] || bt_fail "--index 2"
out=$(b exec --index 3 web true 2>&1)
[ $? = 1 ] || bt_fail "--index 3 exit code"
bt_contains "$out" "no container #3"

echo "== -d returns at once and the command runs"
b exec -d web sh -c 'sleep 0.2; echo done >/tmp/marker' || bt_fail "exec -d"
for _ in $(seq 1 50); do
    [ "$(b exec -T web cat /tmp/marker 2>/dev/null)" = done ] && break
    sleep 0.1
done
[ "$(b exec -T web cat /tmp/marker)" = done ] || bt_fail "the detached command did not run"

echo "== 127 for a missing command, 126 for one that is not executable"
b exec -T web /no/such/program 2>/dev/null
[ $? = 127 ] || bt_fail "missing program: expected 127"
b exec -T web /etc/passwd 2>/dev/null
[ $? = 126 ] || bt_fail "non-executable: expected 126"

echo "== a stopped service, an unknown one, a usage error"
out=$(b exec -T db true 2>&1)
[ $? = 1 ] || bt_fail "stopped service: exit code"
bt_contains "$out" 'service "db" is not running'
out=$(b exec -T nosuch true 2>&1)
[ $? = 1 ] || bt_fail "unknown service: exit code"
bt_contains "$out" "no such service: nosuch"
b exec web >/dev/null 2>&1
[ $? = 2 ] || bt_fail "a missing command is a usage error"

for c in $(b container ls -a -q); do b container rm -f "$c" >/dev/null; done
[ -z "$(ls "$BERTH_ROOT/containers" 2>/dev/null)" ] || bt_fail "containers left behind"
echo "PASS"
