#!/usr/bin/env bash
# Concurrency and scale: berth commands run side by side never hand out one
# subnet or address twice (the state lock), and 200 published ports leave
# the nftables rule count unchanged (maps, not rules, grow).
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

# a small pool, so that a double allocation would show
cat >"$BERTH_CONFIG" <<'JSON'
{"default-address-pools": [{"base": "10.50.0.0/16", "size": 24}], "bip": "10.50.0.1/24"}
JSON

# ---- parallel network creation ----
jobs=()
for i in $(seq 8); do
    bt_berth network create "n$i" >/dev/null &
    jobs+=($!)
done
for j in "${jobs[@]}"; do wait "$j" || bt_fail "a parallel network create failed"; done
subnets=$(for i in $(seq 8); do
    bt_berth network inspect "n$i" | awk -F'"' '/"Subnet"/ {print $4}'
done)
[ "$(echo "$subnets" | sort -u | wc -l)" = 8 ] || bt_fail "subnets handed out twice: $subnets"
echo "$subnets" | grep -q '^10\.50\.0\.0/24$' && bt_fail "bip's subnet was handed out"
echo "$subnets" | grep -qv '^10\.50\.' && bt_fail "subnet outside the configured pool"
# a host route takes a subnet out of the pool
ip route add blackhole 10.50.9.0/24
bt_berth network create n9 >/dev/null
[ "$(bt_berth network inspect n9 | awk -F'"' '/"Subnet"/ {print $4}')" = 10.50.10.0/24 ] ||
    bt_fail "allocation overlapped a host route"
ip route del blackhole 10.50.9.0/24

# ---- parallel attachment to one network ----
jobs=()
for i in $(seq 10); do
    bt_berth network setup --network n1 "c$i" >/dev/null &
    jobs+=($!)
done
for j in "${jobs[@]}"; do wait "$j" || bt_fail "a parallel setup failed"; done
addrs=$(bt_berth network inspect n1 | awk -F'"' '/"IPv4Address"/ {print $4}')
[ "$(echo "$addrs" | sort -u | wc -l)" = 10 ] || bt_fail "addresses handed out twice: $addrs"
# a released address is reused
gone=$(nsenter --net="$NS/c3" ip -o -4 addr show eth0 | awk '{print $4}')
bt_berth network teardown c3
bt_berth network setup --network n1 c3b >/dev/null
[ "$(nsenter --net="$NS/c3b" ip -o -4 addr show eth0 | awk '{print $4}')" = "$gone" ] ||
    bt_fail "released address not reused"

# one host port asked for by four containers at once: exactly one gets it
jobs=()
for i in 1 2 3 4; do
    bt_berth network setup --network n3 -p 7000:80 "race$i" >/dev/null 2>&1 &
    jobs+=($!)
done
won=0
for j in "${jobs[@]}"; do wait "$j" && won=$((won + 1)); done
[ $won = 1 ] || bt_fail "$won containers got host port 7000"
[ "$(nft list map inet berth pub_any | grep -c ' 7000 ')" = 1 ] || bt_fail "port 7000 in the map twice"
for i in 1 2 3 4; do bt_berth network teardown "race$i"; done

# ---- 200 published ports, fixed rule count ----
rules() {
    nft -j list ruleset | /usr/bin/python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["nftables"] if "rule" in o))'
}
before=$(rules)
bt_berth network setup --network n2 -p 20000-20199:10000-10199 big >/dev/null
bt_berth network setup --network n2 -p 127.0.0.1:30000-30099:10000-10099/udp big2 >/dev/null
after=$(rules)
[ "$before" = "$after" ] || bt_fail "rule count changed with 300 ports: $before -> $after"
elems=$(nft list map inet berth pub_any | grep -o ' : ' | wc -l)
[ "$elems" -ge 200 ] || bt_fail "expected 200 map elements, got $elems"
nsenter --net="$NS/big" busybox nc -ll -p 10123 -e echo port-10123 &
PIDS+=($!)
for _ in $(seq 100); do
    nsenter --net="$NS/big" cat /proc/net/tcp /proc/net/tcp6 | grep -qi ":$(printf '%04X' 10123) " && break
    sleep 0.05
done
[ "$(timeout 3 busybox nc 127.0.0.1 20123 </dev/null)" = port-10123 ] ||
    bt_fail "port 123 of the range does not answer"

# ---- everything goes ----
kill_started
PIDS=()
for c in c1 c2 c4 c5 c6 c7 c8 c9 c10 c3b big big2; do bt_berth network teardown "$c"; done
bt_berth network prune -f >/dev/null
[ -z "$(bt_berth network ls -q)" ] || bt_fail "prune left networks"
[ -z "$(ip -o link | grep -v ': lo:')" ] || bt_fail "links left: $(ip -o link)"
[ -z "$(nft list ruleset)" ] || bt_fail "nft left"
[ -z "$(ls -A "$NS")" ] || bt_fail "netns files left"
echo PASS
