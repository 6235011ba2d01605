#!/usr/bin/env bash
# `down` leaves no conntrack entry of its containers: a UDP client on
# another host (a namespace on a veth) keeps sending to a published UDP port from one source port (its
# datagrams are NATed to the container, and conntrack remembers that); after
# `down` no entry names the container's address, and after `up` recreates
# the service the same flow is NATed to the new container again (without
# the flush on publish, the entry its datagrams made while nothing was
# published would keep them on the host).
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
PY=/usr/bin/python3
[ -x $PY ] || bt_skip "needs python3"
up_image

client=
stop_client() { [ -n "$client" ] && kill "$client" 2>/dev/null && wait "$client" 2>/dev/null; }
BT_CLEANUP_HOOK=stop_client

up_project demo <<'YAML'
services:
  dns:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    ports: ["5353:53/udp"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML
b up -d >/dev/null 2>&1 || bt_fail "up"
cip=$(b inspect -f '{{.NetworkSettings.IPAddress}}' demo-dns-1) || bt_fail "inspect"
[ -n "$cip" ] || bt_fail "no container address"
[ -e /proc/net/nf_conntrack ] || bt_skip "needs /proc/net/nf_conntrack to observe the entries"

# another host, 192.0.2.2, reaching this one at 192.0.2.1 (traffic from the
# host's own loopback is masqueraded, and the kernel drops masqueraded
# entries with their interface anyway)
b network setup remote >/dev/null || bt_fail "remote namespace"
R=$BERTH_RUNROOT/netns/remote
nsenter --net="$R" ip link add up1 type veth peer name up0 netns $$
ip addr add 192.0.2.1/24 dev up0
ip link set up0 up
nsenter --net="$R" ip addr add 192.0.2.2/24 dev up1
nsenter --net="$R" ip link set up1 up

# one source port, a datagram every 50 ms, for at most 60 s
nsenter --net="$R" $PY -c '
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("192.0.2.2", 40053))
end = time.monotonic() + 60
while time.monotonic() < end:
    s.sendto(b"ping\n", ("192.0.2.1", 5353))
    time.sleep(0.05)
' &
client=$!

has_entry() { grep -q "src=$1 " /proc/net/nf_conntrack; }
wait_for 50 has_entry "$cip" || bt_fail "no conntrack entry towards $cip: $(cat /proc/net/nf_conntrack)"

b down >/dev/null 2>&1 || bt_fail "down"
has_entry "$cip" && bt_fail "conntrack entries of a removed container: $(grep "$cip" /proc/net/nf_conntrack)"

b up -d >/dev/null 2>&1 || bt_fail "second up"
cip2=$(b inspect -f '{{.NetworkSettings.IPAddress}}' demo-dns-1) || bt_fail "inspect"
wait_for 50 has_entry "$cip2" ||
    bt_fail "the flow does not reach the new container $cip2: $(cat /proc/net/nf_conntrack)"

b down >/dev/null 2>&1 || bt_fail "last down"
has_entry "$cip2" && bt_fail "conntrack entries of a removed container: $(grep "$cip2" /proc/net/nf_conntrack)"
stop_client
client=
b network teardown remote || bt_fail "remove the remote namespace"
ip link del up0 2>/dev/null || true # gone with its peer's namespace
assert_nothing_left
echo PASS
