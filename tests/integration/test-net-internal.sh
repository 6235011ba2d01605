#!/usr/bin/env bash
# internal networks: containers reach each other but nothing outside (no
# default route, forwarding dropped), and ports cannot be published there.
# Also: a netns outlives the processes in it (a restarted container keeps
# its addresses), and a joined container (network_mode service:/container:)
# shares the target's namespace, loopback listeners included.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
# no pipefail: `cmd | grep -q` may end cmd early with SIGPIPE
set -eu
command -v nft >/dev/null || bt_skip "needs nft"
[ -x /usr/bin/python3 ] || bt_skip "needs python3"

NS=$BERTH_RUNROOT/netns
PIDS=()
kill_started() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
BT_CLEANUP_HOOK=kill_started
wait_port() { # NS PORT
    for _ in $(seq 100); do
        nsenter --net="$NS/$1" cat /proc/net/tcp /proc/net/tcp6 | awk '{print $2}' |
            grep -qi ":$(printf '%04X' "$2")\$" && return 0
        sleep 0.05
    done
    bt_fail "server on port $2 in $1 did not start"
}

bt_berth network create --internal back >/dev/null
bt_berth network create front >/dev/null
bt_berth network inspect back | grep -q '"Internal": true' || bt_fail "inspect Internal"

# a published port on an internal network is refused, and nothing is left
out=$(bt_berth network setup --network back -p 8080:80 --name demo-db-1 db0 2>&1) &&
    bt_fail "published a port on an internal network"
echo "$out" | grep -q 'network back is internal: ports cannot be published' ||
    bt_fail "message: $out"
[ -e "$NS/db0" ] && bt_fail "refused setup left a netns"
bt_berth network inspect back | grep -q '"db0":' && bt_fail "refused setup left a lease"

bt_berth network setup --network back --name demo-db-1 db1 >/dev/null
bt_berth network setup --network back --name demo-app-1 app1 >/dev/null
bt_berth network setup --network front -p 8081:80 --name demo-out-1 out1 >/dev/null

# "outside": a namespace behind a veth of the host
bt_berth network setup outside >/dev/null
nsenter --net="$NS/outside" ip link add up1 type veth peer name up0 netns $$
ip addr add 192.0.2.1/24 dev up0
ip link set up0 up
nsenter --net="$NS/outside" ip addr add 192.0.2.2/24 dev up1
nsenter --net="$NS/outside" ip link set up1 up
nsenter --net="$NS/outside" ip route add default via 192.0.2.1
nsenter --net="$NS/outside" busybox nc -ll -p 9000 -e echo outside-ok &
PIDS+=($!)
nsenter --net="$NS/db1" busybox nc -ll -p 5432 -e echo db-ok &
PIDS+=($!)
wait_port outside 9000
wait_port db1 5432

nsenter --net="$NS/db1" ip route | grep -q '^default' && bt_fail "internal network has a default route"
db_ip=$(nsenter --net="$NS/db1" ip -o -4 addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
[ "$(nsenter --net="$NS/app1" timeout 3 busybox nc "$db_ip" 5432 </dev/null)" = db-ok ] ||
    bt_fail "containers on an internal network cannot talk"
[ "$(nsenter --net="$NS/out1" timeout 3 busybox nc 192.0.2.2 9000 </dev/null)" = outside-ok ] ||
    bt_fail "a normal network has no egress"
nsenter --net="$NS/db1" timeout 2 busybox nc 192.0.2.2 9000 </dev/null >/dev/null 2>&1 &&
    bt_fail "internal network reached the outside"
# even with a route forced in, the host does not forward it
back_gw=$(bt_berth network inspect back | awk -F'"' '/"Gateway"/ {print $4}')
nsenter --net="$NS/db1" ip route add default via "$back_gw"
nsenter --net="$NS/db1" timeout 2 busybox nc 192.0.2.2 9000 </dev/null >/dev/null 2>&1 &&
    bt_fail "internal network forwarded to the outside"
nsenter --net="$NS/outside" timeout 2 busybox nc "$db_ip" 5432 </dev/null >/dev/null 2>&1 &&
    bt_fail "outside reached a container on an internal network"

# ---- a netns outlives its processes: the restarted server keeps its address ----
nsenter --net="$NS/out1" busybox nc -ll -p 80 -e echo first &
srv=$!
wait_port out1 80
out_ip=$(nsenter --net="$NS/out1" ip -o -4 addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
[ "$(timeout 3 busybox nc "$out_ip" 80 </dev/null)" = first ] || bt_fail "first server"
# an internal network does not reach other networks through published ports
[ "$(timeout 3 busybox nc 127.0.0.1 8081 </dev/null)" = first ] || bt_fail "published port"
nsenter --net="$NS/app1" timeout 2 busybox nc "$back_gw" 8081 </dev/null 2>/dev/null |
    grep -q first && bt_fail "internal network reached a published port"
kill $srv
wait $srv 2>/dev/null || true
nsenter --net="$NS/out1" busybox nc -ll -p 80 -e echo second &
PIDS+=($!)
wait_port out1 80
[ "$(timeout 3 busybox nc "$out_ip" 80 </dev/null)" = second ] || bt_fail "restarted server"

# ---- joined: service:out1 is out1's path; loopback listeners are shared ----
nsenter --net="$NS/out1" /usr/bin/python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 3306))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"loopback-only\n")
    c.close()
' &
PIDS+=($!)
wait_port out1 3306
[ "$(nsenter --net="$NS/out1" timeout 3 busybox nc 127.0.0.1 3306 </dev/null)" = loopback-only ] ||
    bt_fail "joined namespace does not see the loopback listener"
timeout 3 busybox nc "$out_ip" 3306 </dev/null >/dev/null 2>&1 &&
    bt_fail "loopback listener reachable from outside the namespace"

# ---- teardown ----
kill_started
PIDS=()
for c in db1 app1 out1 outside; do bt_berth network teardown $c; done
ip link del up0 2>/dev/null || true # may already be gone with its peer's netns
bt_berth network rm back front >/dev/null
[ -z "$(ip -o link | grep -v ': lo:')" ] || bt_fail "links left: $(ip -o link)"
[ -z "$(nft list ruleset)" ] || bt_fail "nft left"
[ -z "$(ls -A "$NS")" ] || bt_fail "netns files left"
echo PASS
