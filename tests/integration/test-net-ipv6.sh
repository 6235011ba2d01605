#!/usr/bin/env bash
# Dual-stack networks with bare namespaces (berth network setup): a network
# with --ipv6 gets an IPv6 subnet from the pools or from --subnet, its
# containers get IPv6 addresses (static ones too), a default route and
# hosts entries, and talk to each other over IPv6; IPv4-only networks stay
# IPv4-only; ports published on [::], on an IPv6 address and on every
# address (both families) answer from the host and from another namespace
# with a fixed rule set, [::1] gets no nft element (the monitor proxies it); IPv6 egress is masqueraded;
# teardown leaves no IPv6 address, route, link or nft element.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups (see test-net-bridge.sh).
bt_cgroup_cleanup() { :; }
set -eu

command -v nft >/dev/null || bt_skip "needs nft"
command -v busybox >/dev/null || bt_skip "needs busybox"
[ -e /proc/net/if_inet6 ] || bt_skip "needs IPv6 in the kernel"

NS=$BERTH_RUNROOT/netns
PIDS=()
kill_started() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
BT_CLEANUP_HOOK=kill_started

links_before=$(ip -o link | awk -F': ' '{print $2}' | sort)
addr6_before=$(ip -6 -o addr | awk '{print $2, $4}' | sort)
route6_before=$(ip -6 route | sort)

in_ns() {
    local id=$1
    shift
    nsenter --net="$NS/$id" unshare --mount sh -c \
        'mount --bind "$0" /etc/hosts && exec "$@"' \
        "$BERTH_RUNROOT/net/containers/$id/hosts" "$@"
}
serve() { # NS PORT TEXT: answers TEXT on every address family
    nsenter --net="$NS/$1" busybox nc -ll -p "$2" -e echo "$3" &
    PIDS+=($!)
}
wait_port() { # NS PORT
    for _ in $(seq 100); do
        nsenter --net="$NS/$1" cat /proc/net/tcp /proc/net/tcp6 | awk '{print $2}' |
            grep -qi ":$(printf '%04X' "$2")\$" && return 0
        sleep 0.05
    done
    bt_fail "server on port $2 in $1 did not start"
}

# ---- networks ----
bt_berth network create --ipv6 dual >/dev/null
bt_berth network create --ipv6 --subnet 10.124.0.0/24 --subnet fd12:3456::/64 \
    --gateway fd12:3456::fe -o com.docker.network.bridge.name=br-dual2 dual2 >/dev/null
bt_berth network create plain4 >/dev/null
bt_berth network inspect dual | grep -q '"EnableIPv6": true' || bt_fail "EnableIPv6 in inspect"
sub6=$(bt_berth network inspect -f '{{json .IPAM.Config}}' dual 2>/dev/null ||
    bt_berth network inspect dual)
echo "$sub6" | grep -q 'fd00:b37::/64' || bt_fail "default IPv6 subnet: $sub6"
ip -6 -o addr show br-dual2 | grep -q 'inet6 fd12:3456::fe/64' || bt_fail "IPv6 gateway on bridge"
out=$(bt_berth network create --ipv6 --subnet fd12:3456::/48 clash 2>&1) &&
    bt_fail "overlapping IPv6 subnet accepted"
echo "$out" | grep -q 'overlaps network dual2' || bt_fail "overlap message: $out"
out=$(bt_berth network create --subnet fd99::/64 noflag 2>&1) &&
    bt_fail "IPv6 subnet without --ipv6 accepted"
echo "$out" | grep -q 'enable_ipv6' || bt_fail "message without --ipv6: $out"

# ---- containers ----
bt_berth network setup --network dual --name demo-web-1 --service web web1 >"$BT_TMP/web1.out"
grep -q '^dual eth0 172\.[0-9.]*/16 fd00:b37::2/64$' "$BT_TMP/web1.out" ||
    bt_fail "web1 addresses: $(cat "$BT_TMP/web1.out")"
bt_berth network setup --network dual --ip6 fd00:b37::99 --name demo-db-1 --service db db1 \
    >/dev/null
bt_berth network setup --network plain4 --name demo-v4-1 v41 >/dev/null
nsenter --net="$NS/db1" ip -6 -o addr show eth0 | grep -q 'inet6 fd00:b37::99/64' ||
    bt_fail "static IPv6 address"
nsenter --net="$NS/db1" ip -6 -o addr show eth0 scope global | grep -q tentative && bt_fail "address tentative"
nsenter --net="$NS/db1" ip -6 route | grep -q '^default via fd00:b37::1 dev eth0' ||
    bt_fail "IPv6 default route: $(nsenter --net="$NS/db1" ip -6 route)"
nsenter --net="$NS/v41" ip -6 -o addr show eth0 scope global | grep -q inet6 &&
    bt_fail "IPv4-only network gave an IPv6 address"
out=$(bt_berth network setup --network plain4 --ip6 fd00::5 bad1 2>&1) &&
    bt_fail "ipv6 address on an IPv4 network accepted"
echo "$out" | grep -q 'has no IPv6' || bt_fail "message: $out"
[ -e "$NS/bad1" ] && bt_fail "failed setup left its netns"
grep -qE '^fd00:b37::2\sweb demo-web-1$' "$BERTH_RUNROOT/net/containers/db1/hosts" ||
    bt_fail "db1's hosts lacks web's IPv6: $(cat "$BERTH_RUNROOT/net/containers/db1/hosts")"
grep -qE '^fd00:b37::99\s' "$BERTH_RUNROOT/net/containers/db1/hosts" ||
    bt_fail "db1's hosts lacks its own IPv6 address"
bt_berth network inspect dual | grep -q '"IPv6Address": "fd00:b37::99/64"' ||
    bt_fail "IPv6Address in inspect"

# ---- traffic over IPv6 ----
serve web1 80 hello-web6
wait_port web1 80
[ "$(in_ns db1 timeout 3 busybox nc fd00:b37::2 80 </dev/null)" = hello-web6 ] ||
    bt_fail "db1 -> web over IPv6"
# the host reaches the gateway side too
[ "$(timeout 3 busybox nc fd00:b37::2 80 </dev/null)" = hello-web6 ] ||
    bt_fail "host -> web over IPv6"

# ---- published ports ----
rules() {
    nft -j list ruleset | python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["nftables"] if "rule" in o))'
}
rules_before=$(rules)
bt_berth network setup --network dual -p 8080:80 -p '[::]:8082:80' -p '[fd00:b37::1]::80' \
    --name demo-pub-1 pub1 >"$BT_TMP/pub1.out"
grep -q '^80/tcp -> 0.0.0.0:8080$' "$BT_TMP/pub1.out" || bt_fail "IPv4 binding: $(cat "$BT_TMP/pub1.out")"
grep -q '^80/tcp -> \[::\]:8080$' "$BT_TMP/pub1.out" || bt_fail "8080 not published on [::] too"
eph=$(awk '$3 ~ /^\[fd00:b37::1\]:/ {sub(/^\[fd00:b37::1\]:/, "", $3); print $3}' \
    "$BT_TMP/pub1.out")
[ -n "$eph" ] || bt_fail "ephemeral IPv6 port not reported: $(cat "$BT_TMP/pub1.out")"
serve pub1 80 hello-pub
wait_port pub1 80
# from the host itself, on its IPv6 (bridge) address and on IPv4 loopback
for target in "127.0.0.1 8080" "fd00:b37::1 8080" "fd00:b37::1 8082" "fd00:b37::1 $eph"; do
    # shellcheck disable=SC2086
    [ "$(timeout 3 busybox nc $target </dev/null)" = hello-pub ] ||
        bt_fail "published port from the host: $target"
done
timeout 3 busybox nc 127.0.0.1 8082 </dev/null >/dev/null 2>&1 &&
    bt_fail "a port published on [::] answered on 127.0.0.1"
# [::1] is not NATed (the kernel cannot): recorded for the monitor's
# proxy, with no nft element
bt_berth network setup --network dual -p '[::1]:8081:80' --name demo-lo-1 lo1 >"$BT_TMP/lo1.out"
grep -q '^80/tcp -> \[::1\]:8081$' "$BT_TMP/lo1.out" || bt_fail "[::1] binding: $(cat "$BT_TMP/lo1.out")"
nft list table inet berth | grep -qE '[{ ,]::1 \. ' && bt_fail "an nft element for [::1]"
bt_berth network teardown lo1
# a container reaches a published port through the host's IPv6 address (hairpin)
[ "$(in_ns db1 timeout 3 busybox nc fd00:b37::1 8082 </dev/null)" = hello-pub ] ||
    bt_fail "IPv6 hairpin"
# a taken IPv6 port names its holder
out=$(bt_berth network setup --network dual -p '[::]:8082:80' --name demo-x-1 x1 2>&1) &&
    bt_fail "a taken IPv6 port was published twice"
echo "$out" | grep -qF 'Bind for [::]:8082/tcp failed: port is already allocated by container demo-pub-1' ||
    bt_fail "message for a taken IPv6 port: $out"

# another host: a namespace behind a veth, reaching the host's IPv6 address
bt_berth network setup remote >/dev/null
nsenter --net="$NS/remote" ip link add up1 type veth peer name up0 netns $$
ip addr add fd99::1/64 dev up0 nodad
ip link set up0 up
nsenter --net="$NS/remote" ip addr add fd99::2/64 dev up1 nodad
nsenter --net="$NS/remote" ip link set up1 up
for p in 8080 8082; do
    [ "$(nsenter --net="$NS/remote" timeout 3 busybox nc fd99::1 $p </dev/null)" = hello-pub ] ||
        bt_fail "published port $p from another host over IPv6"
done
nsenter --net="$NS/remote" timeout 3 busybox nc fd99::1 "$eph" </dev/null >/dev/null 2>&1 &&
    bt_fail "a port published on fd00:b37::1 answered on another address"
# IPv6 egress is masqueraded: the remote host has no route to fd00:b37::/64
nsenter --net="$NS/remote" busybox nc -ll -p 9001 -e echo remote-ok &
PIDS+=($!)
wait_port remote 9001
[ "$(in_ns db1 timeout 3 busybox nc fd99::2 9001 </dev/null)" = remote-ok ] ||
    bt_fail "IPv6 egress to another host"

# many published ports, same rule set
specs=()
for p in $(seq 7000 7049); do specs+=(-p "$p:80" -p "[fd00:b37::1]:$((p + 100)):81"); done
bt_berth network setup --network dual "${specs[@]}" --name demo-many-1 many1 >/dev/null
[ "$(rules)" = "$rules_before" ] || bt_fail "rule count changed: $rules_before -> $(rules)"
[ "$(nft list map inet berth pub_any6 | grep -o ' : fd00:b37::' | wc -l)" -ge 51 ] ||
    bt_fail "pub_any6 lacks the ports"
[ "$(nft list map inet berth pub_addr6 | grep -o ' : fd00:b37::' | wc -l)" -ge 51 ] ||
    bt_fail "pub_addr6 lacks the ports"

# ---- connect and disconnect ----
bt_berth network ls --format json | grep '"Name":"dual"' | grep -q '"IPv6":"true"' ||
    bt_fail "network ls does not show IPv6"
bt_berth network setup --network dual -p '[::]:8095:80' --name demo-c-1 c1 >/dev/null
bt_berth network connect plain4 demo-c-1
out=$(bt_berth network disconnect dual demo-c-1 2>&1) &&
    bt_fail "left the network its IPv6 port leads through"
echo "$out" | grep -q 'publishes ports through network dual' || bt_fail "message: $out"
bt_berth network setup --network dual --name demo-c-2 c2 >/dev/null
bt_berth network connect dual2 demo-c-2
nsenter --net="$NS/c2" ip -6 -o addr show eth1 | grep -q 'inet6 fd12:3456::1/64' ||
    bt_fail "connected IPv6 address: $(nsenter --net="$NS/c2" ip -6 -o addr show eth1)"
bt_berth network disconnect dual demo-c-2
nsenter --net="$NS/c2" ip -6 route | grep -q '^default via fd12:3456::fe dev eth1' ||
    bt_fail "IPv6 default route not handed over: $(nsenter --net="$NS/c2" ip -6 route)"

# ---- teardown ----
kill_started
PIDS=()
for c in web1 db1 v41 pub1 many1 remote c1 c2; do bt_berth network teardown "$c"; done
for n in dual dual2 plain4; do bt_berth network rm "$n" >/dev/null; done
ip link del up0 2>/dev/null || true
[ "$(ip -o link | awk -F': ' '{print $2}' | sort)" = "$links_before" ] || bt_fail "links left"
[ "$(ip -6 -o addr | awk '{print $2, $4}' | sort)" = "$addr6_before" ] ||
    bt_fail "IPv6 addresses left: $(ip -6 -o addr)"
[ "$(ip -6 route | sort)" = "$route6_before" ] || bt_fail "IPv6 routes left: $(ip -6 route)"
[ -z "$(nft list ruleset)" ] || bt_fail "nft table left: $(nft list tables)"
[ -z "$(ls -A "$NS" 2>/dev/null)" ] || bt_fail "netns files left"
echo "ok"
