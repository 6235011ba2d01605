#!/usr/bin/env bash
# Bridge networks end to end with bare namespaces (berth network setup):
# two containers talk over a bridge, reach each other by service name and
# alias, a container on another network cannot reach them, published TCP and
# UDP ports answer from the host's loopback, from the host's address and from
# a second namespace acting as another host, egress is masqueraded, and
# teardown leaves no link, address, netns file, nft element or lease.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
# no pipefail: `cmd | grep -q` may end cmd early with SIGPIPE
set -eu

command -v nft >/dev/null || bt_skip "needs nft"
command -v busybox >/dev/null || bt_skip "needs busybox"
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

links_before=$(ip -o link | awk -F': ' '{print $2}' | sort)

# in_ns NS CMD...: runs CMD in container NS's network, with its hosts file as
# /etc/hosts (a private mount namespace, as the engine's bind mount does).
in_ns() {
    local id=$1
    shift
    nsenter --net="$NS/$id" unshare --mount sh -c \
        'mount --bind "$0" /etc/hosts && exec "$@"' \
        "$BERTH_RUNROOT/net/containers/$id/hosts" "$@"
}

# serve NS PORT TEXT: a TCP server answering TEXT to every connection.
serve() {
    nsenter --net="$NS/$1" busybox nc -ll -p "$2" -e echo "$3" &
    PIDS+=($!)
}

# ask [NS] HOST PORT: connects and prints the answer.
ask() {
    if [ $# = 3 ]; then
        in_ns "$1" timeout 3 busybox nc "$2" "$3" </dev/null
    else
        timeout 3 busybox nc "$1" "$2" </dev/null
    fi
}

wait_port() { # NS PORT [udp]
    local f="/proc/net/${3:-tcp} /proc/net/${3:-tcp}6"
    for _ in $(seq 100); do
        # shellcheck disable=SC2086
        nsenter --net="$NS/$1" cat $f | awk '{print $2}' |
            grep -qi ":$(printf '%04X' "$2")\$" && return 0
        sleep 0.05
    done
    bt_fail "server on port $2 in $1 did not start"
}

# ---- networks ----
bt_berth network create --label com.example=1 front >/dev/null
bt_berth network create --subnet 10.123.0.0/24 --gateway 10.123.0.254 --ip-range 10.123.0.128/25 \
    -o com.docker.network.bridge.name=br-other -o com.docker.network.driver.mtu=1400 other >/dev/null
bt_berth network ls | grep -q ' front ' || bt_fail "front not listed"
bt_berth network ls --format json | grep -q '"Name":"other"' || bt_fail "json ls"
ip -o link show br-other | grep -q 'mtu 1400' || bt_fail "bridge MTU from driver_opts"
ip -o addr show br-other | grep -q 'inet 10.123.0.254/24' || bt_fail "gateway on bridge"
out=$(bt_berth network create --subnet 10.123.0.0/16 clash 2>&1) && bt_fail "overlap accepted"
echo "$out" | grep -q 'overlaps network other' || bt_fail "overlap message: $out"

# ---- containers ----
bt_berth network setup --network front --alias www --name demo-web-1 --service web \
    -p 8080:80 -p 127.0.0.1::81 -p 5353:53/udp web1 >"$BT_TMP/web1.out"
bt_berth network setup --network front --network other --ip 10.123.0.200 \
    --name demo-db-1 --service db db1 >/dev/null
bt_berth network setup --network other --name demo-cache-1 --service cache cache1 >/dev/null
[ -e "$NS/web1" ] && [ -e "$NS/db1" ] || bt_fail "netns files missing"
nsenter --net="$NS/db1" ip -o addr show eth1 | grep -q 'inet 10.123.0.200/24' ||
    bt_fail "static address"
nsenter --net="$NS/cache1" ip -o addr show eth0 | grep -q 'inet 10.123.0.128/24' ||
    bt_fail "address from ip_range"
nsenter --net="$NS/db1" ip route | grep -q '^default via .* dev eth0' || bt_fail "default route"
nsenter --net="$NS/cache1" ip -o link show eth0 | grep -q 'mtu 1400' || bt_fail "veth MTU"

# name resolution files
grep -qE '\sweb demo-web-1 www$' "$BERTH_RUNROOT/net/containers/db1/hosts" ||
    bt_fail "db1 does not list web: $(cat "$BERTH_RUNROOT/net/containers/db1/hosts")"
grep -q 'cache' "$BERTH_RUNROOT/net/containers/web1/hosts" &&
    bt_fail "web1 lists cache although they share no network"
grep -q 'demo-cache-1' "$BERTH_RUNROOT/net/containers/db1/hosts" || bt_fail "db1 lacks cache"

# ---- traffic between containers, by name ----
serve web1 80 hello-web
serve web1 81 hello-local
wait_port web1 80
wait_port web1 81
[ "$(ask db1 web 80)" = hello-web ] || bt_fail "db1 -> web by service name"
[ "$(ask db1 www 80)" = hello-web ] || bt_fail "db1 -> www by alias"
[ "$(ask db1 demo-web-1 80)" = hello-web ] || bt_fail "db1 -> demo-web-1 by container name"
web_ip=$(awk '$2 == "web" {print $1}' "$BERTH_RUNROOT/net/containers/db1/hosts")
ask cache1 "$web_ip" 80 >/dev/null 2>&1 && bt_fail "cache1 (other network) reached web"

# ---- published ports ----
[ "$(ask 127.0.0.1 8080)" = hello-web ] || bt_fail "published port from host loopback"
[ "$(ask 127.0.0.1 8080)" = hello-web ] || bt_fail "published port twice"
eph=$(awk '$1 == "81/tcp" {print $3}' "$BT_TMP/web1.out")
[ -n "$eph" ] || bt_fail "ephemeral port not reported: $(cat "$BT_TMP/web1.out")"
[ "$(ask 127.0.0.1 "${eph#127.0.0.1:}")" = hello-local ] || bt_fail "ephemeral on 127.0.0.1"
gw=$(ip -o -4 addr show | awk '$2 ~ /^br-/ && $4 !~ /^10\.123/ {split($4, a, "/"); print a[1]}')
[ "$(ask "$gw" 8080)" = hello-web ] || bt_fail "published port on the host's bridge address"
# hairpin: db1 reaches web through the published port on the host address
[ "$(ask db1 "$gw" 8080)" = hello-web ] || bt_fail "hairpin"
[ "$(ask web1 "$gw" 8080)" = hello-web ] || bt_fail "hairpin to the container's own port"
# a published port is public: a container of another network reaches it too
[ "$(ask cache1 "$gw" 8080)" = hello-web ] || bt_fail "published port from another network"

# a container cannot reach the host's loopback-only services, even when it
# routes 127.0.0.0/8 to the bridge (route_localnet is on there)
$PY -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.5", 9999))
s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"host-secret\n")
    c.close()
' &
PIDS+=($!)
for _ in $(seq 100); do
    grep -qi ":$(printf '%04X' 9999) " /proc/net/tcp && break
    sleep 0.05
done
[ "$(ask 127.0.0.5 9999)" = host-secret ] || bt_fail "loopback service did not start"
nsenter --net="$NS/db1" sh -c "echo 1 >/proc/sys/net/ipv4/conf/eth0/route_localnet &&
    ip route add 127.0.0.5/32 via $gw dev eth0"
nsenter --net="$NS/db1" timeout 2 busybox nc 127.0.0.5 9999 </dev/null 2>/dev/null |
    grep -q host-secret && bt_fail "a container reached the host's loopback"

# another host: a namespace behind a veth of the host
bt_berth network setup remote >/dev/null
nsenter --net="$NS/remote" ip link add up1 type veth peer name up0 netns $$
ip addr add 192.0.2.1/24 dev up0
ip link set up0 up
nsenter --net="$NS/remote" ip addr add 192.0.2.2/24 dev up1
nsenter --net="$NS/remote" ip link set up1 up
[ "$(nsenter --net="$NS/remote" timeout 3 busybox nc 192.0.2.1 8080 </dev/null)" = hello-web ] ||
    bt_fail "published port from another host"
nsenter --net="$NS/remote" timeout 3 busybox nc 192.0.2.1 "${eph#127.0.0.1:}" </dev/null \
    >/dev/null 2>&1 && bt_fail "a port published on 127.0.0.1 answered another host"

# a port published on one host address answers there only
bt_berth network setup --network front -p 192.0.2.1:8090:80 --name demo-api-1 api1 >/dev/null
serve api1 80 hello-api
wait_port api1 80
[ "$(nsenter --net="$NS/remote" timeout 3 busybox nc 192.0.2.1 8090 </dev/null)" = hello-api ] ||
    bt_fail "port published on 192.0.2.1 from another host"
[ "$(ask 192.0.2.1 8090)" = hello-api ] || bt_fail "port published on 192.0.2.1 from the host"
ask 127.0.0.1 8090 >/dev/null 2>&1 && bt_fail "port published on 192.0.2.1 answered on 127.0.0.1"

# egress is masqueraded: the remote host has no route to the containers'
# subnets, so an answer proves the source was rewritten to the host's address
nsenter --net="$NS/remote" busybox nc -ll -p 9001 -e echo remote-ok &
PIDS+=($!)
wait_port remote 9001
[ "$(ask db1 192.0.2.2 9001)" = remote-ok ] || bt_fail "egress to another host"

# UDP: a datagram to the published port reaches the container
nsenter --net="$NS/web1" $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 53))
s.settimeout(5)
for _ in range(2):
    data, peer = s.recvfrom(100)
    s.sendto(b"pong:" + data, peer)
' &
udp_pid=$!
PIDS+=($udp_pid)
wait_port web1 53 udp
udp_ask() { # HOST
    $PY -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"ping", (sys.argv[1], 5353))
print(s.recvfrom(100)[0].decode())
' "$1"
}
reply=$(udp_ask 127.0.0.1) || true
[ "$reply" = pong:ping ] || bt_fail "published UDP port from loopback: '$reply'"
reply=$(nsenter --net="$NS/remote" bash -c "$(declare -f udp_ask); PY=$PY; udp_ask 192.0.2.1") || true
[ "$reply" = pong:ping ] || bt_fail "published UDP port from another host: '$reply'"

# ---- conflicts ----
out=$(bt_berth network setup --network front -p 8080:80 --name demo-web-2 web2 2>&1) &&
    bt_fail "a port taken by berth was published twice"
echo "$out" | grep -q '0.0.0.0:8080/tcp failed: port is already allocated by container demo-web-1' ||
    bt_fail "conflict message: $out"
[ -e "$NS/web2" ] && bt_fail "failed setup left its netns"
busybox nc -l -p 8181 -e true &
PIDS+=($!)
for _ in $(seq 100); do
    cat /proc/net/tcp /proc/net/tcp6 | grep -qi ":$(printf '%04X' 8181) " && break
    sleep 0.05
done
out=$(bt_berth network setup --network front -p 8181:80 web3 2>&1) &&
    bt_fail "a port taken by a process was published"
echo "$out" | grep -q '8181/tcp failed: port is already in use' || bt_fail "conflict message: $out"

# a network with endpoints cannot be removed
out=$(bt_berth network rm front 2>&1) && bt_fail "removed a network in use"
echo "$out" | grep -q 'demo-db-1' || bt_fail "rm message names the containers: $out"

# ---- teardown ----
for c in web1 db1 cache1 remote api1; do bt_berth network teardown $c; done
ip link del up0 2>/dev/null || true # may already be gone with its peer's netns
bt_berth network rm front other >/dev/null
[ "$(ip -o link | awk -F': ' '{print $2}' | sort)" = "$links_before" ] ||
    bt_fail "links left: $(ip -o link)"
[ -z "$(ip -o -4 addr | grep -v ' lo ')" ] || bt_fail "addresses left: $(ip -o -4 addr)"
[ -z "$(nft list ruleset)" ] || bt_fail "nft left: $(nft list ruleset)"
[ -z "$(ls -A "$NS")" ] || bt_fail "netns files left: $(ls "$NS")"
[ -z "$(ls -A "$BERTH_ROOT/net/networks")" ] || bt_fail "network state left"
[ "$(cat "$BERTH_RUNROOT/net/ports.json")" = "[]" ] || bt_fail "port registry left"
grep -q " $NS/" /proc/self/mountinfo && bt_fail "netns mounts left"
echo "PASS"
