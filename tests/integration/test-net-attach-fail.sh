#!/usr/bin/env bash
# An attach that fails after the address is reserved leaves nothing: the
# veth cannot be made once the network's bridge is no bridge any more (a
# veth of its name), which happens while the container's ports are
# published in parallel. Afterwards the container has no namespace, veth,
# endpoint, published port, map element or files, and its port and address
# go to the next container once the bridge is back.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
set -eu
command -v nft >/dev/null || bt_skip "needs nft"
command -v ip >/dev/null || bt_skip "needs ip"

bt_berth network create -o com.docker.network.bridge.name=brfail n1 >/dev/null
bt_berth network setup --network n1 first >/dev/null # the table and the bridge exist
links_before=$(ip -o link show | wc -l)
ip link del brfail
ip link add brfail type veth peer name brfailp

if out=$(bt_berth network setup --network n1 -p 8080:80 -p 8081:81/udp c1 2>&1); then
    bt_fail "setup succeeded with no bridge: $out"
fi
echo "$out" | grep -q "attach c1 to network n1" || bt_fail "error does not say what failed: $out"
# without ports the veth is made on the command's own thread
if out=$(bt_berth network setup --network n1 c3 2>&1); then
    bt_fail "setup without ports succeeded with no bridge: $out"
fi
echo "$out" | grep -q "attach c3 to network n1" || bt_fail "error does not say what failed: $out"
[ ! -e "$BERTH_RUNROOT/netns/c3" ] || bt_fail "netns file of c3 left"
bt_berth network inspect n1 | grep -q '"c3"' && bt_fail "endpoint of c3 left"

[ ! -e "$BERTH_RUNROOT/netns/c1" ] || bt_fail "netns file left"
grep -q "netns/c1" /proc/self/mountinfo && bt_fail "netns mount left"
[ ! -e "$BERTH_RUNROOT/net/containers/c1" ] || bt_fail "resolution files left"
bt_berth network inspect n1 | grep -q '"c1"' && bt_fail "endpoint left in the network's state"
grep -q '"c1"' "$BERTH_RUNROOT/net/ports.json" 2>/dev/null && bt_fail "port left in the registry"
nft list map inet berth pub_any | grep -q ' 8080 ' && bt_fail "map element left"
nft list map inet berth pub_any | grep -q ' 8081 ' && bt_fail "udp map element left"
# the veth pair replaced the bridge: one more link, and no other
[ "$(ip -o link show | wc -l)" = "$((links_before + 1))" ] || {
    ip -o link show
    bt_fail "links left"
}

# with the bridge back, the next container gets the port
ip link del brfail
out=$(bt_berth network setup --network n1 -p 8080:80 c2) || bt_fail "setup after the failure"
echo "$out" | grep -q '0.0.0.0:8080' || bt_fail "port 8080 not published for c2: $out"
nft list map inet berth pub_any | grep -q 'tcp . 8080 : ' || bt_fail "c2's map element missing"
bt_berth network teardown c2
bt_berth network teardown first
echo ok
