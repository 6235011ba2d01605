#!/usr/bin/env bash
# berth top: each running container of the project with its processes as
# the host sees them (ps -ef columns); stopped containers are left out.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u

R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" || bt_skip "no busybox rootfs"
b() { "$BERTH_BIN" "$@"; }
P=$BERTH_TEST_TMP/demo
mkdir -p "$P"
printf 'services:\n  web:\n    image: busybox\n  db:\n    image: busybox\n' >"$P/compose.yaml"
cd "$P"
svc() {
    local s=$1 n=$2
    shift 2
    b container run -d --name "demo-$s-$n" --rootfs "$R" \
        -l com.docker.compose.project=demo -l com.docker.compose.service="$s" \
        -l com.docker.compose.container-number="$n" -l com.docker.compose.oneoff=False "$@" >/dev/null ||
        bt_fail "could not start demo-$s-$n"
}
svc web 1 sh -c 'sleep 300 & exec sleep 301'
svc db 1 true
b container wait demo-db-1 >/dev/null

out=$(b top)
echo "$out"
pid=$(b container inspect -f '{{.State.Pid}}' demo-web-1)
[ "$(echo "$out" | head -1)" = demo-web-1 ] || bt_fail "first line is not the container name"
echo "$out" | sed -n 2p | grep -Eq '^UID +PID +PPID +C +STIME +TTY +TIME +CMD$' || bt_fail "header"
echo "$out" | grep -Eq "^root +$pid +[0-9]+ +[0-9]+ +[0-9]{2}:[0-9]{2} +\? +00:00:0[0-9] +sleep 301$" ||
    bt_fail "init row with the host pid"
echo "$out" | grep -Eq "^root +[0-9]+ +$pid .* sleep 300$" || bt_fail "child row whose parent is the init"
bt_not_contains() { case "$1" in *"$2"*) bt_fail "unexpected '$2' in: $1" ;; esac; }
bt_not_contains "$out" "demo-db-1"
[ "$(b top db)" = "" ] || bt_fail "a stopped service printed processes"
b top nosuch >/dev/null 2>&1
[ $? = 1 ] || bt_fail "unknown service"

for c in $(b container ls -a -q); do b container rm -f "$c" >/dev/null; done
echo PASS
