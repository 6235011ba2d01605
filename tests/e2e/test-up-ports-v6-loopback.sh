#!/usr/bin/env bash
# Ports published on the IPv6 loopback ([::1]), served by the monitor's
# userland proxy: busybox httpd answers http://[::1]:PORT/ from the host
# (towards a container with only IPv4 and one with IPv6), an ephemeral
# [::1]::80 is reported by `berth port`, a UDP echo answers each client,
# several MiB arrive intact both ways with half-close propagated, ps shows
# [::1]:PORT->80/tcp, no nft element is made for them, the ports are held,
# no process of the container (init: true included) shares the monitor's
# sockets, the proxy serves again after a restart by the restart policy,
# down leaves no monitor, socket or element, and up works again at once. Without an IPv6 loopback
# `up` fails with a clear error before anything starts.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
command -v nft >/dev/null || bt_skip "needs nft"
. "$BERTH_SOURCE_DIR/tests/e2e/ports-lib.sh"
ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128' || bt_skip "the sandbox's lo has no ::1"

# in_netns SERVICE PROGRAM ARGS: a python server in the container's network
# namespace (the image has no UDP server and no byte-exact TCP echo).
in_netns() {
    local id
    id=$(b container inspect -f '{{.Id}}' "demo-$1-1") || bt_fail "inspect $1"
    shift
    nsenter --net="$BERTH_RUNROOT/netns/$id" $PY -c "$@" &
    PIDS+=($!)
}
wait_listen() { # SERVICE PORT tcp|udp
    local id
    id=$(b container inspect -f '{{.Id}}' "demo-$1-1")
    for _ in $(seq 100); do
        nsenter --net="$BERTH_RUNROOT/netns/$id" cat "/proc/net/$3" "/proc/net/${3}6" |
            awk '{print $2}' | grep -qi ":$(printf '%04X' "$2")\$" && return 0
        sleep 0.05
    done
    bt_fail "server on port $2 in $1 did not start"
}

up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sh, -c, "dd if=/dev/urandom of=/srv/www/big bs=1024 count=6144 2>/dev/null && exec httpd -f -p 8080 -h /srv/www"]
    ports: ["[::1]:18100:8080", "[::1]:18101:9000/udp", "[::1]:18102:9100", "127.0.0.1:18104:8080"]
    stop_grace_period: 1s
  eph:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "80", -h, /srv/www]
    ports: ["[::1]::80"]
    init: true
    stop_grace_period: 1s
  web6:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports:
      - target: 8080
        host_ip: "::1"
        published: "18103"
    networks: [dual]
    restart: always
    stop_grace_period: 1s
networks:
  dual:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.126.0.0/24
        - subnet: "fd12:3457::/64"
YAML
page=$(cat "$BERTH_TEST_TMP/img/rootfs/srv/www/index.html" 2>/dev/null || true)

echo "== up -d"
out=$(b up -d 2>&1) || bt_fail "up -d failed: $out"

echo "== HTTP through [::1]"
wait_for 100 timeout 3 wget -qO- "http://[::1]:18100/" || bt_fail "[::1]:18100 does not answer"
got=$(timeout 3 wget -qO- "http://[::1]:18100/")
[ -n "$got" ] || bt_fail "empty answer from [::1]:18100"
[ -z "$page" ] || expect_eq "$got" "$page" "page through [::1] (IPv4 container)"
wait_for 100 timeout 3 wget -qO- "http://[::1]:18103/" || bt_fail "[::1]:18103 does not answer"
[ -z "$page" ] || expect_eq "$(timeout 3 wget -qO- "http://[::1]:18103/")" "$page" \
    "page through [::1] (IPv6 container)"
got=$(timeout 3 wget -qO- "http://127.0.0.1:18104/") || bt_fail "the IPv4 binding beside it"

echo "== port and ps"
eph=$(b port eph 80) || bt_fail "berth port eph 80"
case $eph in "[::1]:"[0-9]*) ;; *) bt_fail "port eph 80 printed '$eph'" ;; esac
wait_for 50 timeout 3 wget -qO- "http://$eph/" || bt_fail "ephemeral $eph does not answer"
out=$(b ps)
echo "$out"
expect_in "$out" "[::1]:18100->8080/tcp" "ps shows the [::1] binding"
expect_in "$out" "[::1]:18101->9000/udp" "ps shows the [::1] UDP binding"
expect_in "$out" "[::1]:18103->8080/tcp" "ps shows the long-syntax binding"
expect_in "$out" "$eph->80/tcp" "ps shows the ephemeral binding"

echo "== the container inherits none of the host port sockets"
socks() { ls -l "/proc/$1/fd" 2>/dev/null | grep -o 'socket:\[[0-9]*\]' | sort -u; }
# the sockets the monitor was handed (--hold FD, --proxy FD,...)
held_socks() {
    tr '\0' '\n' <"/proc/$1/cmdline" |
        awk 'prev == "--hold" || prev == "--proxy" {split($0, a, ","); print a[1]} {prev = $0}' |
        while read -r fd; do readlink "/proc/$1/fd/$fd"; done | sort -u
}
for svc in web eph; do
    pid=$(b inspect -f '{{.State.Pid}}' "demo-$svc-1")
    mon=$(awk '/^PPid/ {print $2}' "/proc/$pid/status")
    held=$(held_socks "$mon")
    [ -n "$held" ] || bt_fail "$svc's monitor holds no port socket"
    for p in $pid $(cat "/proc/$pid/task/$pid/children"); do
        left=$(comm -12 <(echo "$held") <(socks "$p"))
        [ -z "$left" ] ||
            bt_fail "$svc's process $p ($(tr '\0' ' ' <"/proc/$p/cmdline")) has the host port $left"
    done
done

echo "== no nft element, the ports are held"
rules=$(nft list table inet berth)
echo "$rules" | grep -E '[{ ,]::1 \. ' && bt_fail "an nft element for [::1]"
expect_in "$rules" "127.0.0.1 . tcp . 18104" "the IPv4 binding's element"
held=$($PY -c '
import socket
s = socket.socket(socket.AF_INET6)
try:
    s.bind(("::1", 18100)); print("free")
except OSError as e:
    print("taken")')
expect_eq "$held" taken "[::1]:18100 while up"

echo "== a large download"
want=$(b exec -T web sha256sum /srv/www/big | cut -d' ' -f1)
[ -n "$want" ] || bt_fail "no checksum from the container"
got=$(timeout 30 wget -qO- "http://[::1]:18100/big" | sha256sum | cut -d' ' -f1)
expect_eq "$got" "$want" "6 MiB through the proxy"

echo "== echo with half-close"
in_netns web '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9100)); s.listen(4); s.settimeout(30)
for _ in range(2):
    c, _ = s.accept()
    c.settimeout(30)
    while True:
        d = c.recv(65536)
        if not d:
            break
        c.sendall(d)
    c.shutdown(socket.SHUT_WR)   # our end after theirs: half-close both ways
    c.close()
'
wait_listen web 9100 tcp
echo_check() {
    $PY - <<'PY'
import hashlib, os, socket, threading
data = os.urandom(8 * 1024 * 1024)
s = socket.create_connection(("::1", 18102), timeout=30)
def send():
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send)
t.start()
got = bytearray()
while True:
    d = s.recv(1 << 16)
    if not d:
        break
    got += d
t.join()
print("ok" if hashlib.sha256(got).digest() == hashlib.sha256(data).digest() else
      "mismatch: sent %d, got %d" % (len(data), len(got)))
PY
}
expect_eq "$(echo_check)" ok "8 MiB echoed through [::1] with half-close"

echo "== UDP through [::1]"
in_netns web '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9000)); s.settimeout(30)
for _ in range(40):
    d, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + d, peer)
'
wait_listen web 9000 udp
got=$($PY - <<'PY'
import socket
out = []
socks = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(2)]
for i, s in enumerate(socks):
    s.settimeout(1)
    for _ in range(5):
        s.sendto(b"ping%d" % i, ("::1", 18101))
        try:
            d, peer = s.recvfrom(2048)
            out.append("%s@%s" % (d.decode(), peer[1]))
            break
        except socket.timeout:
            pass
print(" ".join(out))
PY
)
expect_eq "$got" "echo:ping0@18101 echo:ping1@18101" "UDP echo to two clients, from the held port"

echo "== the proxy outlives a restart by the restart policy"
kill_and_wait_restart demo-web6-1
wait_for 100 timeout 3 wget -qO- "http://[::1]:18103/" || bt_fail "[::1]:18103 after a restart"

echo "== monitor memory"
for svc in web eph; do
    pid=$(b inspect -f '{{.State.Pid}}' "demo-$svc-1")
    mon=$(awk '/^PPid/ {print $2}' "/proc/$pid/status")
    echo "monitor of $svc: $(awk '/^VmRSS/ {print $2, $3}' "/proc/$mon/status")"
done

echo "== down"
out=$(b down 2>&1) || bt_fail "down failed: $out"
kill_started
assert_nothing_left

echo "== up again right after down"
# the proxy's connections left TIME_WAIT sockets on the port: a server
# binds it (SO_REUSEADDR), and so does berth
held=$($PY -c '
import socket
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::1", 18100)); s.listen(1); print("free")') || true
expect_eq "$held" free "[::1]:18100 after down"
out=$(b up -d 2>&1) || bt_fail "up -d again: $out"
wait_for 100 timeout 3 wget -qO- "http://[::1]:18100/" || bt_fail "no answer after up again"
out=$(b down 2>&1) || bt_fail "down failed: $out"
assert_nothing_left "after the second down"

echo "== no IPv6 loopback"
sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 || bt_skip "cannot disable IPv6 on lo"
out=$(b up -d 2>&1) && bt_fail "up succeeded without an IPv6 loopback: $out"
expect_in "$out" "/tcp failed: the host has no IPv6 loopback address (IPv6 is disabled)" \
    "the error without IPv6 loopback"
b down >/dev/null 2>&1
sysctl -qw net.ipv6.conf.lo.disable_ipv6=0
assert_nothing_left "after the failed up"
echo ok
