#!/usr/bin/env bash
# make nmt: the nginx + mysql + tomcat stack end to end. Makes the images
# from Debian's packages (cached, see make-images.sh), then in a private
# network, mount and pid namespace with temporary berth state: imports them,
# `berth up -d --wait`, checks that nginx answers through the published port
# with tomcat's page read from mysql over loopback, that the shared volume
# is served, that tomcat and mysql listen on loopback only, and that
# `down -v` leaves nothing.
#   examples/nmt/run.sh [BERTH]    (as root; opt-in, needs Debian's archive)
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export BERTH_SOURCE_DIR=$src
export BERTH_BIN=$(realpath "${1:-$src/build/cli/berth}")
cache=${NMT_CACHE:-/var/tmp/berth-nmt}
export NMT_CACHE=$cache
. "$src/tests/lib/sandbox.sh"
if [ "${BERTH_IN_SANDBOX:-}" != 1 ]; then
    NMT_NO_IMPORT=1 "$src/examples/nmt/make-images.sh" || bt_fail "could not make the images"
fi
bt_sandbox_enter "$0" "$@"
b() { "$BERTH_BIN" "$@"; }
for name in base mysql tomcat nginx; do
    b import "$cache/$name.tar" "berth-nmt/$name:latest" >/dev/null || bt_fail "import $name"
done
cp -r "$src/examples/nmt" "$BERTH_TEST_TMP/nmt"
cd "$BERTH_TEST_TMP/nmt"
BT_CLEANUP_HOOK="b down -v -t 2"
export NMT_PORT=18088
b up -d --wait --wait-timeout 180 || { b logs --tail 20; bt_fail "up"; }
b ps
page=$(timeout 10 wget -qO- "http://127.0.0.1:$NMT_PORT/") || bt_fail "nginx does not answer"
echo "$page"
case "$page" in *"tomcat says: hello from mysql"*) ;; *) bt_fail "page: $page" ;; esac
[ "$(timeout 10 wget -qO- "http://127.0.0.1:$NMT_PORT/shared/hello.txt")" = "hello from the shared volume" ] ||
    bt_fail "the shared volume is not served"
# listening sockets of the shared namespace (state 0A): 80 on every
# address, 3306 and 8080 on 127.0.0.1 only
listen=$(b exec -T infra cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == "0A" { print $2 }')
echo "$listen" | grep -qx '00000000:0050' || bt_fail "nginx does not listen on *:80: $listen"
for port in 0CEA 1F90; do
    echo "$listen" | grep -q ":$port\$" || bt_fail "nothing listens on port $((16#$port))"
    # 127.0.0.1, ::ffff:127.0.0.1 (Java's sockets) or ::1
    echo "$listen" | grep ":$port\$" |
        grep -Evq '^(0100007F|0000000000000000FFFF00000100007F|00000000000000000000000001000000):' &&
        bt_fail "port $((16#$port)) is not on loopback only: $listen"
done
b down -v -t 5 || bt_fail "down"
BT_CLEANUP_HOOK=
[ -z "$(ls "$BERTH_ROOT/containers")" ] || bt_fail "containers left after down"
[ -z "$(ls "$BERTH_RUNROOT/netns")" ] || bt_fail "netns left after down"
echo "nmt: PASS"
