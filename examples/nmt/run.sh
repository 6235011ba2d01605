#!/usr/bin/env bash
# make nmt: the nginx + mysql + tomcat stack end to end.
#   examples/nmt/run.sh [BERTH]    (as root; opt-in)
#
# First, in berth's own store (BERTH_ROOT as you use it), images.sh makes
# sure the images are there: those present are used, the missing ones are
# pulled (the official images, when a registry is reachable) or else built
# offline from Debian's packages (NMT_OFFLINE=1: never pull). The MariaDB JDBC
# driver for the web application comes from NMT_JDBC_JAR or from Debian's
# libmariadb-java package.
#
# Then, in a private network, mount and pid namespace with temporary berth
# state, it loads those images, runs `berth up -d --wait`, and checks that
# nginx answers through the published port with tomcat's page read from
# mysql over loopback, that the shared volume is served, that tomcat and
# mysql listen on loopback only, and that `down -v` leaves nothing.
set -uo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
here=$src/examples/nmt
export BERTH_SOURCE_DIR=$src
BERTH_BIN=$(realpath "${1:-$src/build/cli/berth}")
export BERTH_BIN
. "$src/tests/lib/sandbox.sh"
lib=$here/webapp/WEB-INF/lib

# The MariaDB JDBC driver: $NMT_JDBC_JAR, or the jar of Debian's package.
driver() {
    [ -n "$(find "$lib" -name '*.jar' 2>/dev/null)" ] && return 0
    if [ -n "${NMT_JDBC_JAR:-}" ]; then
        cp "$NMT_JDBC_JAR" "$lib/mariadb-java-client.jar"
        return
    fi
    local tmp jar
    tmp=$(mktemp -d)
    (cd "$tmp" && apt-get download -q -o APT::Sandbox::User=root libmariadb-java >/dev/null && dpkg-deb -x ./*.deb root) || {
        rm -rf "$tmp"
        echo "nmt: could not get Debian's libmariadb-java (apt-get update?); set NMT_JDBC_JAR" >&2
        return 1
    }
    jar=$(find "$tmp/root" -type f -name 'mariadb-java-client*.jar' | head -n 1)
    [ -n "$jar" ] && cp "$jar" "$lib/mariadb-java-client.jar"
    rm -rf "$tmp"
    [ -n "$jar" ] && echo "nmt: put Debian's MariaDB JDBC driver in webapp/WEB-INF/lib"
}

if [ "${BERTH_IN_SANDBOX:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || bt_fail "run it as root"
    "$here/images.sh" "$BERTH_BIN" || bt_fail "the images are not there"
    driver || bt_fail "no JDBC driver"
    mapfile -t images < <(cd "$here" && "$BERTH_BIN" config --images)
    NMT_ARCHIVE=$(mktemp "${TMPDIR:-/var/tmp}/berth-nmt-images.XXXXXX")
    export NMT_ARCHIVE
    trap 'rm -f "$NMT_ARCHIVE"' EXIT
    "$BERTH_BIN" save -o "$NMT_ARCHIVE" "${images[@]}" || bt_fail "save the images"
    (bt_sandbox_enter "$0" "$@")
    exit
fi

bt_sandbox_enter "$0" "$@"
b() { "$BERTH_BIN" "$@"; }
b load -q -i "$NMT_ARCHIVE" || bt_fail "load the images"
cp -r "$here" "$BERTH_TEST_TMP/nmt"
cd "$BERTH_TEST_TMP/nmt" || bt_fail "cd"
BT_CLEANUP_HOOK="b down -v -t 2"
export NMT_PORT=18088
b up -d --wait --wait-timeout 300 || {
    b logs --tail 30
    bt_fail "up"
}
b ps
page=$(timeout 10 wget -qO- "http://127.0.0.1:$NMT_PORT/") || bt_fail "nginx does not answer"
echo "$page"
case "$page" in *"tomcat says: hello from mysql"*) ;; *) bt_fail "page: $page" ;; esac
[ "$(timeout 10 wget -qO- "http://127.0.0.1:$NMT_PORT/shared/hello.txt")" = "hello from the shared volume" ] ||
    bt_fail "the shared volume is not served"
# listening sockets of the shared namespace (state 0A): 80 on every
# address, 3306 and 8080 on 127.0.0.1 only
listen=$(b exec -T infra cat /proc/net/tcp /proc/net/tcp6 | awk '$4 == "0A" { print $2 }')
echo "$listen" | grep -Eqx '0{8}:0050|0{32}:0050' || bt_fail "nginx does not listen on *:80: $listen"
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
[ -z "$(b volume ls -q)" ] || bt_fail "volumes left after down -v"
echo "nmt: PASS"
