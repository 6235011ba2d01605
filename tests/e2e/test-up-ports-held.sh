#!/usr/bin/env bash
# A container's published host ports are held by its monitor while it
# lives: no other process can bind them between up and down (TCP and UDP),
# the held sockets do not take the container's traffic (DNAT still
# answers), a restart by the restart policy keeps them held, a port taken
# while the container was stopped fails `start` with the port in the
# message, `up` recreates the container while it holds them, and after
# down the ports are free again.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
. "$BERTH_SOURCE_DIR/tests/e2e/ports-lib.sh"

# try_bind tcp|udp IP PORT: prints "free" when a plain bind (no
# SO_REUSEADDR) succeeds, "taken" on EADDRINUSE.
try_bind() {
    $PY - "$@" <<'PY'
import errno, socket, sys
proto, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if ":" in ip else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM)
try:
    s.bind((ip, port))
    print("free")
except OSError as e:
    print("taken" if e.errno == errno.EADDRINUSE else "error: %s" % e)
PY
}

# udp_echo_in NETNS PORT: a UDP echo server in the container's network
# namespace (the image has no UDP server), for a bounded number of packets.
udp_echo_in() {
    nsenter --net="$1" $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", int(sys.argv[1])))
s.settimeout(30)
for _ in range(20):
    data, peer = s.recvfrom(2048)
    s.sendto(b"echo:" + data, peer)
' "$2" &
    PIDS+=($!)
}
udp_ask() { # IP PORT
    $PY - "$@" <<'PY'
import socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1)
for _ in range(5):
    s.sendto(b"ping", (ip, port))
    try:
        print(s.recvfrom(2048)[0].decode())
        break
    except socket.timeout:
        pass
PY
}

up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["127.0.0.1:18090:8080", "127.0.0.1:18091:9000/udp", "18092:8080"]
    restart: always
    stop_grace_period: 1s
YAML
page=$(cat "$BERTH_TEST_TMP/img/rootfs/srv/www/index.html" 2>/dev/null || true)

echo "== up -d"
out=$(b up -d 2>&1) || bt_fail "up -d failed: $out"
cid=$(b container inspect -f '{{.Id}}' demo-web-1) || bt_fail "inspect"
wait_for 50 timeout 3 wget -qO- http://127.0.0.1:18090/ || bt_fail "published port does not answer"
got=$(timeout 3 wget -qO- http://127.0.0.1:18090/)
[ -z "$page" ] || expect_eq "$got" "$page" "page through the held port"

echo "== the ports are held"
expect_eq "$(try_bind tcp 127.0.0.1 18090)" taken "tcp 127.0.0.1:18090 while up"
expect_eq "$(try_bind tcp 0.0.0.0 18090)" taken "tcp 0.0.0.0:18090 while up"
expect_eq "$(try_bind udp 127.0.0.1 18091)" taken "udp 127.0.0.1:18091 while up"
expect_eq "$(try_bind tcp 0.0.0.0 18092)" taken "tcp 0.0.0.0:18092 while up"
got=$(timeout 3 wget -qO- http://127.0.0.1:18092/) || bt_fail "a port held on every address does not answer"
[ -z "$page" ] || expect_eq "$got" "$page" "page through 18092"
expect_eq "$(try_bind tcp 127.0.0.1 18093)" free "an unpublished port"
out=$(timeout 2 busybox nc -l -p 18090 -e true 2>&1)
expect_in "$out" "Address already in use" "nc listening on a held port"
mon=$(cat "/proc/$(b inspect -f '{{.State.Pid}}' demo-web-1)/status" | awk '/^PPid/ {print $2}')
ls -l "/proc/$mon/fd" | grep -q socket || bt_fail "the monitor holds no socket"
echo "monitor RSS (held ports, no proxy): $(awk '/^VmRSS/ {print $2, $3}' "/proc/$mon/status")"

echo "== UDP still reaches the container"
udp_echo_in "$BERTH_RUNROOT/netns/$cid" 9000
reply=$(udp_ask 127.0.0.1 18091)
expect_eq "$reply" "echo:ping" "UDP through a held port"

echo "== a restart by policy keeps them"
kill_and_wait_restart demo-web-1
expect_eq "$(try_bind tcp 127.0.0.1 18090)" taken "tcp 18090 after a restart"
expect_eq "$(try_bind udp 127.0.0.1 18091)" taken "udp 18091 after a restart"
wait_for 50 timeout 3 wget -qO- http://127.0.0.1:18090/ || bt_fail "no answer after the restart"

echo "== stop frees them; a port taken meanwhile fails start"
b stop >/dev/null 2>&1 || bt_fail "stop"
expect_eq "$(try_bind tcp 127.0.0.1 18090)" free "tcp 18090 after stop"
$PY -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 18090))
s.listen(1)
open(sys.argv[1], "w").close()
time.sleep(30)
' "$BERTH_TEST_TMP/squatting" &
squatter=$!
PIDS+=($squatter)
wait_for 300 test -e "$BERTH_TEST_TMP/squatting" || bt_fail "squatter did not bind"
out=$(b start 2>&1) && bt_fail "start succeeded on a taken port: $out"
expect_in "$out" "127.0.0.1:18090/tcp failed: port is already in use by another process" \
    "start on a taken port"
expect_not_in "$(b ps --format json)" '"running"' "nothing runs after the failed start"
kill "$squatter"
wait "$squatter" 2>/dev/null
out=$(b start 2>&1) || bt_fail "start after the port came free: $out"
wait_for 50 timeout 3 wget -qO- http://127.0.0.1:18090/ || bt_fail "no answer after start"
expect_eq "$(try_bind tcp 127.0.0.1 18090)" taken "tcp 18090 after start"

echo "== recreating the container while it holds them"
sed -i 's|    restart: always|    restart: always\n    environment: {CHANGED: "1"}|' compose.yaml
out=$(b up -d 2>&1) || bt_fail "up -d after a change: $out"
expect_in "$out" "Recreated" "the container was recreated"
wait_for 50 timeout 3 wget -qO- http://127.0.0.1:18090/ || bt_fail "no answer after recreate"
expect_eq "$(try_bind tcp 127.0.0.1 18090)" taken "tcp 18090 after recreate"

echo "== down frees them"
out=$(b down 2>&1) || bt_fail "down failed: $out"
for spec in "tcp 127.0.0.1 18090" "udp 127.0.0.1 18091" "tcp 0.0.0.0 18092"; do
    # shellcheck disable=SC2086
    expect_eq "$(try_bind $spec)" free "$spec after down"
done
kill_started
assert_nothing_left
echo ok
