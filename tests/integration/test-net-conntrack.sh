#!/usr/bin/env bash
# Conntrack entries follow a published port (bare namespaces, berth network
# setup/teardown as the engine calls them): a UDP client on another host
# keeps sending from one source port to a published UDP port; the container
# behind it is removed and the port is published by a new container at
# another address; the next datagrams reach the new one (without the flush
# conntrack keeps sending them to the removed address, or to the host for
# the datagrams sent while nothing was published). A removed container
# leaves no entry of a flow NATed to it; its own masqueraded flows expire
# on their own, as with Docker. The same over IPv6 on a dual-stack network.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
set -eu

command -v nft >/dev/null || bt_skip "needs nft"
PY=/usr/bin/python3
[ -x $PY ] || bt_skip "needs python3"

NS=$BERTH_RUNROOT/netns
PIDS=()
kill_started() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
BT_CLEANUP_HOOK=kill_started

# conntrack entries of this sandbox's netns, one per line
entries() { cat /proc/net/nf_conntrack 2>/dev/null || true; }

# udp_server ID NAME [6]: answers each datagram with "NAME DATA", on IPv4
# or, with 6, on IPv6.
udp_server() {
    nsenter --net="$NS/$1" $PY -c '
import socket, sys
six = sys.argv[2] == "6"
s = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("::" if six else "0.0.0.0", 53))
while True:
    data, peer = s.recvfrom(100)
    s.sendto(sys.argv[1].encode() + b" " + data, peer)
' "$2" "${3:-4}" &
    PIDS+=($!)
    local f=/proc/net/udp${3:-}
    [ "${3:-}" = 6 ] || f=/proc/net/udp
    for _ in $(seq 100); do
        nsenter --net="$NS/$1" cat $f | awk '{print $2}' | grep -qi ':0035$' && return 0
        sleep 0.05
    done
    bt_fail "UDP server in $1 did not start"
}

# client FILE HOST SOURCE: from another host, one source address and port,
# a datagram every 20 ms to HOST port 5353, answers appended to FILE. It
# runs until the test ends it (bounded by its own deadline).
client() {
    nsenter --net="$NS/remote" $PY -c '
import socket, sys, time
host, src = sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((src, 40053))
s.settimeout(0.02)
out = open(sys.argv[1], "a", buffering=1)
n = 0
end = time.monotonic() + 50
while time.monotonic() < end:
    s.sendto(b"%d" % n, (host, 5353))
    n += 1
    try:
        while True:
            out.write(s.recvfrom(100)[0].decode() + "\n")
    except OSError:
        pass
    time.sleep(0.02)
' "$@" &
    PIDS+=($!)
}

# wait_reply FILE NAME: until the client's latest answers come from NAME.
wait_reply() {
    for _ in $(seq 100); do
        [ "$(tail -n 1 "$1" 2>/dev/null | cut -d' ' -f1)" = "$2" ] && return 0
        sleep 0.05
    done
    return 1
}

bt_berth network create --subnet 10.77.0.0/24 front >/dev/null

# another host: a namespace on a veth, 192.0.2.2 -> the host's 192.0.2.1
bt_berth network setup remote >/dev/null
nsenter --net="$NS/remote" ip link add up1 type veth peer name up0 netns $$
ip addr add 192.0.2.1/24 dev up0
ip link set up0 up
nsenter --net="$NS/remote" ip addr add 192.0.2.2/24 dev up1
nsenter --net="$NS/remote" ip link set up1 up

bt_berth network setup --network front --ip 10.77.0.2 -p 5353:53/udp one >/dev/null
udp_server one one
[ -e /proc/net/nf_conntrack ] || bt_skip "needs /proc/net/nf_conntrack to observe the entries"

client "$BT_TMP/replies" 192.0.2.1 192.0.2.2
wait_reply "$BT_TMP/replies" one || bt_fail "published UDP port does not answer from another host"
entries | grep 'dport=5353' | grep -q 'src=10.77.0.2 ' ||
    bt_fail "no conntrack entry towards the container: $(entries)"

# The container goes: nothing of its address is left in conntrack, although
# the client keeps the flow alive.
bt_berth network teardown one
entries | grep -q '10\.77\.0\.2 ' && bt_fail "conntrack entries of a removed container: $(entries)"
# Datagrams sent while nothing is published make entries towards the host.
sleep 0.3

# A new container at another address publishes the port: the same flow
# reaches it.
bt_berth network setup --network front --ip 10.77.0.3 -p 5353:53/udp two >/dev/null
udp_server two two
wait_reply "$BT_TMP/replies" two || bt_fail "the flow does not reach the container that published the port now: \
last answer '$(tail -n 1 "$BT_TMP/replies")'; entries: $(entries)"

# The published flow goes with the container; an egress flow of its own
# (masqueraded) is left to expire, as Docker leaves it.
nsenter --net="$NS/two" $PY -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", ("192.0.2.2", 9999))
'
entries | grep -q 'src=10.77.0.3 dst=192.0.2.2' || bt_fail "no egress entry: $(entries)"
bt_berth network teardown two
entries | grep 'dport=5353' | grep -q '10\.77\.0\.3 ' &&
    bt_fail "conntrack entries of the published flow to a removed container: $(entries)"

kill_started
PIDS=()

# ---- IPv6: the same on a dual-stack network, through [::]:5353 ----
exploded() { $PY -c 'import ipaddress, sys; print(ipaddress.ip_address(sys.argv[1]).exploded)' "$1"; }
bt_berth network create --ipv6 --subnet 10.78.0.0/24 --subnet fd77::/64 dual >/dev/null
ip addr add fd99::1/64 dev up0 nodad
nsenter --net="$NS/remote" ip addr add fd99::2/64 dev up1 nodad
bt_berth network setup --network dual --ip6 fd77::10 -p 5353:53/udp six1 >/dev/null
udp_server six1 six1 6
client "$BT_TMP/replies6" fd99::1 fd99::2
wait_reply "$BT_TMP/replies6" six1 || bt_fail "published UDP port does not answer over IPv6"
x1=$(exploded fd77::10)
entries | grep 'dport=5353' | grep -q "src=$x1 " ||
    bt_fail "no IPv6 conntrack entry towards the container: $(entries)"
bt_berth network teardown six1
entries | grep -q "$x1" && bt_fail "IPv6 conntrack entries of a removed container: $(entries)"
sleep 0.3
bt_berth network setup --network dual --ip6 fd77::20 -p 5353:53/udp six2 >/dev/null
udp_server six2 six2 6
wait_reply "$BT_TMP/replies6" six2 || bt_fail "the IPv6 flow does not reach the container that \
published the port now: last answer '$(tail -n 1 "$BT_TMP/replies6")'; entries: $(entries)"
bt_berth network teardown six2
entries | grep -q "$(exploded fd77::20)" &&
    bt_fail "IPv6 conntrack entries of a removed container: $(entries)"

kill_started
PIDS=()
bt_berth network rm dual >/dev/null
bt_berth network teardown remote
ip link del up0 2>/dev/null || true # may already be gone with its peer's netns
bt_berth network rm front >/dev/null
[ -z "$(nft list ruleset)" ] || bt_fail "nft left: $(nft list ruleset)"
[ -z "$(ls -A "$NS")" ] || bt_fail "netns files left: $(ls "$NS")"
echo "PASS"
