#!/usr/bin/env bash
# berth network commands as a user meets them: tables and JSON, clear
# errors for bad input that leave nothing behind, prune, and recovery when
# bridges, nftables and RUNROOT are gone (as after a reboot) while the
# network state in ROOT remains.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
set -eu
command -v nft >/dev/null || bt_skip "needs nft"
NS=$BERTH_RUNROOT/netns

expect_fail() { # MESSAGE-PART CMD...
    local want=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ $rc != 0 ] || bt_fail "succeeded: $*"
    echo "$out" | grep -qF -- "$want" || bt_fail "'$*' said '$out', expected '$want'"
}

# ---- listing ----
[ "$(bt_berth network ls)" = "$(printf '%-14s %-30s %-8s %s' 'NETWORK ID' NAME DRIVER SCOPE)" ] ||
    bt_fail "empty ls: $(bt_berth network ls)"
id=$(bt_berth network create --label com.docker.compose.project=demo demo_default)
[ ${#id} = 64 ] || bt_fail "create prints the id: $id"
bt_berth network ls | grep -qE "^${id:0:12} +demo_default +bridge +local$" || bt_fail "ls row"
[ "$(bt_berth network ls -q)" = "${id:0:12}" ] || bt_fail "ls -q"
bt_berth network ls --format json | /usr/bin/python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 1 and rows[0]["Name"] == "demo_default", rows
assert rows[0]["Labels"] == {"com.docker.compose.project": "demo"}, rows
' || bt_fail "ls --format json"
bt_berth network inspect "${id:0:5}" | /usr/bin/python3 -c '
import json, sys
n = json.load(sys.stdin)[0]
assert n["Name"] == "demo_default" and n["Driver"] == "bridge", n
assert n["IPAM"]["Config"][0]["Subnet"] == "172.17.0.0/16", n
assert n["IPAM"]["Config"][0]["Gateway"] == "172.17.0.1", n
' || bt_fail "inspect by id prefix"

# filters, as docker network ls takes them
bt_berth network create --label tier=back --internal backend >/dev/null
bt_berth network setup --network backend f1 >/dev/null
names() { bt_berth network ls "$@" --format json | sed 's/.*"Name":"\([^"]*\)".*/\1/' | tr '\n' ' '; }
[ "$(names --filter label=com.docker.compose.project=demo)" = "demo_default " ] || bt_fail "label=k=v"
[ "$(names --filter label=tier)" = "backend " ] || bt_fail "label=k"
[ "$(names --filter name=demo --filter name=back)" = "backend demo_default " ] || bt_fail "name any"
[ "$(names --filter name=demo --filter label=tier)" = "" ] || bt_fail "filters of two kinds"
[ "$(names --filter dangling=true)" = "demo_default " ] || bt_fail "dangling"
[ "$(names --filter id=${id:0:6})" = "demo_default " ] || bt_fail "id prefix"
expect_fail "--filter takes" bt_berth network ls --filter colour=red
bt_berth network teardown f1
bt_berth network rm backend >/dev/null

# ---- bad input: clear errors, nothing made ----
links=$(ip -o link | wc -l)
expect_fail "network with name demo_default already exists" bt_berth network create demo_default
expect_fail "invalid network name" bt_berth network create 'bad name'
expect_fail "reserved" bt_berth network create host
expect_fail "invalid subnet '10.0.0.0/40'" bt_berth network create --subnet 10.0.0.0/40 n1
expect_fail "host bits are set (did you mean 10.0.0.0/24?)" \
    bt_berth network create --subnet 10.0.0.1/24 n1
expect_fail "gateway '10.9.0.1' is not a host address of subnet 10.0.0.0/24" \
    bt_berth network create --subnet 10.0.0.0/24 --gateway 10.9.0.1 n1
expect_fail "ip_range '10.1.0.0/25' is not a CIDR inside subnet 10.0.0.0/24" \
    bt_berth network create --subnet 10.0.0.0/24 --ip-range 10.1.0.0/25 n1
expect_fail "not an MTU" bt_berth network create -o com.docker.network.driver.mtu=12 n1
expect_fail "is not an interface name" \
    bt_berth network create -o com.docker.network.bridge.name=waytoolongbridgename n1
expect_fail "only 'bridge'" bt_berth network create -d overlay n1
expect_fail "network nope not found" bt_berth network inspect nope
expect_fail "network nope not found" bt_berth network rm nope
bt_berth network rm -f nope || bt_fail "rm -f of a missing network"
[ "$(ip -o link | wc -l)" = "$links" ] || bt_fail "a failed create left a link"
[ "$(bt_berth network ls -q | wc -l)" = 1 ] || bt_fail "a failed create left a network"
expect_fail "port [::]:8080: the container has no IPv6 address (its network needs enable_ipv6: true)" \
    bt_berth network setup --network demo_default -p '[::]:8080:80' c0
expect_fail "address 172.17.0.1 is the gateway" \
    bt_berth network setup --network demo_default --ip 172.17.0.1 c0
expect_fail "address 10.0.0.5 is not a host address of subnet 172.17.0.0/16" \
    bt_berth network setup --network demo_default --ip 10.0.0.5 c0
[ -e "$NS/c0" ] && bt_fail "failed setup left a netns"
expect_fail "usage" bt_berth network setup --ip 10.0.0.5 c0
# a netns file left without its mount (a command died in between) is taken over
mkdir -p "$NS" && touch "$NS/half"
bt_berth network setup half >/dev/null || bt_fail "a stale netns file blocked setup"
expect_fail "create netns file" bt_berth network setup half
bt_berth network teardown half
expect_fail "invalid container id '../../etc'" bt_berth network teardown ../../etc
expect_fail "invalid netns id '../x'" bt_berth network setup ../x
[ "$(bt_berth network ls --help | head -1)" = "Usage:  berth network ls [--format table|json] [-q] [--no-trunc]" ] ||
    bt_fail "help"

# ---- a static address taken twice ----
bt_berth network setup --network demo_default x >/dev/null
bt_berth network setup --network demo_default --name demo-c-1 c >/dev/null
bt_berth network teardown x
bt_berth network setup --network demo_default --ip 172.17.0.10 --name demo-a-1 a >/dev/null
expect_fail "address 172.17.0.10 is already in use by demo-a-1" \
    bt_berth network setup --network demo_default --ip 172.17.0.10 b

# ---- after a reboot: bridge, nft and RUNROOT gone, ROOT kept ----
ip link del "br-${id:0:12}"
nft delete table inet berth
umount -l "$NS" 2>/dev/null || true
rm -rf "$BERTH_RUNROOT"
mkdir -p "$BERTH_RUNROOT"
bt_berth network setup --network demo_default --name demo-c-1 c >/dev/null ||
    bt_fail "attach after a reboot"
ip -o link show "br-${id:0:12}" >/dev/null || bt_fail "bridge not re-created"
# c had .3 while .2 is free: it comes back with .3
nsenter --net="$NS/c" ip -o -4 addr show eth0 | grep -q 'inet 172.17.0.3/16' ||
    bt_fail "c did not get its address back after the reboot"
bt_berth network setup --network demo_default -p 8080:80 --name demo-a-1 a >/dev/null
nsenter --net="$NS/a" ip -o -4 addr show eth0 | grep -q 'inet 172.17.0.10/16' ||
    bt_fail "a did not get its address back after the reboot: $(cat $BERTH_ROOT/net/networks/*.json)"
nft list map inet berth pub_any | grep -q '8080' || bt_fail "port not published after reboot"
nft list set inet berth nets | grep -q '172.17.0.0/16' || bt_fail "network elements missing"
# an element left by a berth command that died before recording its port
nft add element inet berth pub_any '{ tcp . 8088 : 10.9.9.9 . 80 }'
bt_berth network setup --network demo_default -p 8088:80 d >/dev/null ||
    bt_fail "a leftover map element blocked publishing"
d_ip=$(nsenter --net="$NS/d" ip -o -4 addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
nft list map inet berth pub_any | grep -q "tcp . 8088 : $d_ip . 80" || bt_fail "leftover element kept"
bt_berth network teardown d
bt_berth network teardown a
bt_berth network teardown c
bt_berth network setup --network demo_default b2 >/dev/null
# b2's netns vanishes without a teardown: its lease must not block rm
umount "$NS/b2"
rm "$NS/b2"
bt_berth network rm demo_default >/dev/null || bt_fail "rm with a stale endpoint"

# ---- aux_addresses are kept from containers ----
bt_berth network create --subnet 10.77.0.0/24 --aux-address router=10.77.0.2 aux >/dev/null
bt_berth network inspect aux | grep -q '"router": "10.77.0.2"' || bt_fail "inspect AuxiliaryAddresses"
bt_berth network setup --network aux x1 | grep -q '^aux eth0 10.77.0.3/24$' ||
    bt_fail "an aux address was handed out"
expect_fail "address 10.77.0.2 is reserved by aux_addresses router of network aux" \
    bt_berth network setup --network aux --ip 10.77.0.2 x2
bt_berth network teardown x1
bt_berth network rm aux >/dev/null
expect_fail "aux_addresses bad: not a host address of subnet 10.78.0.0/24" \
    bt_berth network create --subnet 10.78.0.0/24 --aux-address bad=10.1.1.1 aux2
expect_fail "an IPv6 subnet needs enable_ipv6: true" \
    bt_berth network create --subnet fd00:1::/64 v6
expect_fail "invalid subnet 'fd00:1::1/64': host bits are set" \
    bt_berth network create --ipv6 --subnet fd00:1::1/64 v6
expect_fail "gateway 'fd00:2::1' is not an address of subnet fd00:1::/64" \
    bt_berth network create --ipv6 --subnet fd00:1::/64 --gateway fd00:2::1 v6

# ---- a bridge that existed before its network stays after it ----
ip link add mybr type bridge
bt_berth network create -o com.docker.network.bridge.name=mybr adopt >/dev/null
ip -o addr show mybr | grep -q 'inet ' || bt_fail "adopted bridge has no gateway address"
bt_berth network rm adopt >/dev/null
bt_berth network create --ipv6 -o com.docker.network.bridge.name=mybr adopt6 >/dev/null
ip -6 -o addr show mybr | grep -q 'inet6 fd00:b37::1/64' || bt_fail "adopted bridge lacks IPv6"
bt_berth network rm adopt6 >/dev/null
ip -6 -o addr show mybr | grep -q 'fd00:b37' && bt_fail "IPv6 gateway left on adopted bridge"
ip -o link show mybr >/dev/null 2>&1 || bt_fail "removing the network deleted a bridge it did not make"
ip -o addr show mybr | grep -q 'inet ' && bt_fail "the gateway address stayed on the bridge"
ip link del mybr

# ---- prune ----
bt_berth network create used >/dev/null
bt_berth network create unused >/dev/null
bt_berth network setup --network used u1 >/dev/null
echo n | bt_berth network prune >/dev/null
[ "$(bt_berth network ls -q | wc -l)" = 2 ] || bt_fail "prune without yes removed networks"
out=$(bt_berth network prune -f)
[ "$out" = "$(printf 'Deleted Networks:\nunused')" ] || bt_fail "prune output: $out"
bt_berth network ls | grep -q ' used ' || bt_fail "prune removed a network in use"
bt_berth network teardown u1
bt_berth network rm used >/dev/null
[ -z "$(nft list ruleset)" ] || bt_fail "nft left"
[ -z "$(ip -o link | grep -v ': lo:')" ] || bt_fail "links left"
echo PASS
