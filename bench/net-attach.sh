#!/usr/bin/env bash
# Networking benchmark, in a throwaway sandbox (own netns, mount ns, state):
#   - wall time to attach a container: netns + veth + address + routes +
#     hosts/resolv.conf + one published port, measured around the whole
#     `berth network setup` command (process start included, so an upper
#     bound of the library's cost), and inside it (the median of the
#     step timings `--log-level debug` prints);
#   - nftables rule count and connection set-up time through a published
#     port as the number of published ports grows to 1,000.
# Published ports stay below the kernel's ephemeral range, which the
# connection timing uses.
# Usage: bench/net-attach.sh [path/to/berth]   (as root)
# Side by side, the same number of attaches with one published port each:
#   - netavark (podman's network tool, Debian package netavark, installed
#     with apt-get when missing unless BENCH_INSTALL=0): `netavark setup`
#     and `teardown` on a bridge network;
#   - the CNI bridge and portmap plugins (what podman uses on hosts without
#     netavark), when installed.
# Nothing is pulled but the netavark package.
# BENCH_RT=1 runs every timed command (berth's and the peers') at real-time
# priority (chrt -f 50), which keeps a busy machine's scheduling out of the
# numbers.
set -eu
NETAVARK=/usr/lib/podman/netavark
if [ "${BERTH_IN_SANDBOX:-}" != 1 ] && [ ! -x $NETAVARK ] && [ "${BENCH_INSTALL:-1}" = 1 ] &&
    [ "$(id -u)" = 0 ]; then
    # Before entering the sandbox, which has no network.
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends netavark \
        >/dev/null || echo "netavark could not be installed: no side-by-side numbers for it"
fi
BERTH_BIN=${1:-${BERTH_BIN:-build/cli/berth}}
BERTH_BIN=$(realpath "$BERTH_BIN")
export BERTH_BIN
. "$(dirname "$0")/../tests/lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }

NS=$BERTH_RUNROOT/netns
ms() { echo "scale=3; ($2 - $1) / 1000000" | bc; }
now() { date +%s%N; }

RT=
[ "${BENCH_RT:-0}" = 1 ] && RT="chrt -f 50"
median() { sort -n | awk '{a[NR] = $1} END {if (NR) printf "%.3f", a[int((NR + 1) / 2)] / 1000}'; }
# step NAME: the median of one step of berth's debug timings, in ms
step() { sed -n "s/.* $1 \([0-9]*\) us.*/\1/p" "$BT_TMP/attach.log" | median; }

N=${BENCH_CONTAINERS:-50}
bt_berth network create bench >/dev/null
bt_berth network setup --network bench warm >/dev/null
t0=$(now)
for i in $(seq "$N"); do
    $RT "$BERTH_BIN" --log-level debug network setup --network bench -p "$((40000 + i)):80" "c$i" \
        2>>"$BT_TMP/attach.log" >/dev/null
done
t1=$(now)
berth_attach=$(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc)
echo "attach (berth network setup, process included): $berth_attach ms per container over $N"
tr ',;' '\n\n' <"$BT_TMP/attach.log" >"$BT_TMP/steps.log" && mv "$BT_TMP/steps.log" "$BT_TMP/attach.log"
# The namespace is made on a thread while the ports are checked and the
# files written, and each veth on a thread while the hosts files are
# rewritten and the ports published: the waits are what is left of them.
echo "attach inside berth, median: $(step in) ms (port check $(step check)," \
    "resolution files $(step files), netns wait $(step 'netns wait')," \
    "network $(step 'network(s)'), port $(step 'port(s)'), veth wait $(step 'veth wait'))"
t0=$(now)
for i in $(seq "$N"); do $RT "$BERTH_BIN" network teardown "c$i"; done
t1=$(now)
berth_teardown=$(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc)
echo "teardown: $berth_teardown ms per container"

rules() {
    nft -j list ruleset | /usr/bin/python3 -c '
import json, sys
print(sum(1 for o in json.load(sys.stdin)["nftables"] if "rule" in o))'
}
connect_ms() { # average over 100 connections to 127.0.0.1:$1
    /usr/bin/python3 - "$1" <<'PY'
import socket, sys, time
port = int(sys.argv[1])
t = time.perf_counter()
for _ in range(100):
    s = socket.create_connection(("127.0.0.1", port), timeout=3)
    s.recv(16)
    s.close()
print("%.3f" % ((time.perf_counter() - t) * 1000 / 100))
PY
}
bt_berth network setup --network bench -p 45000:80 srv >/dev/null
nsenter --net="$NS/srv" busybox nc -ll -p 80 -e echo x &
srv=$!
BT_CLEANUP_HOOK="kill $srv"
sleep 0.3
published=1
for target in 10 100 1000; do
    while [ $published -lt $target ]; do
        step=$((target - published))
        [ $step -gt 100 ] && step=100
        bt_berth network setup --network bench \
            -p "$((21000 + published))-$((21000 + published + step - 1)):1-$step" "p$published" >/dev/null
        published=$((published + step))
    done
    echo "published ports: $target  nft rules: $(rules)  connect via published port: $(connect_ms 45000) ms"
done
kill $srv 2>/dev/null || true
wait $srv 2>/dev/null || true
BT_CLEANUP_HOOK=

# ---- side by side: the CNI bridge + portmap plugins ----
CNI=/usr/lib/cni
if [ -x $CNI/bridge ] && [ -x $CNI/portmap ] && [ -x $CNI/host-local ] && command -v iptables >/dev/null; then
    mkdir -p "$BT_TMP/cni/netns" "$BT_TMP/cni/ipam"
    cni() { # COMMAND ID PLUGIN-CONFIG
        CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS="$BT_TMP/cni/netns/$2" CNI_IFNAME=eth0 \
            CNI_PATH=$CNI $RT "$CNI/$(echo "$3" | sed 's/.*"type":"\([a-z-]*\)".*/\1/')" <<<"$3"
    }
    bridge_conf='{"cniVersion":"1.0.0","name":"bench","type":"bridge","bridge":"cni-bench0",
"isGateway":true,"ipMasq":true,"ipam":{"type":"host-local","ranges":[[{"subnet":"10.88.0.0/16"}]],
"dataDir":"'"$BT_TMP/cni/ipam"'"}}'
    bridge_conf=$(echo "$bridge_conf" | tr -d '\n')
    t0=$(now)
    for i in $(seq "$N"); do
        touch "$BT_TMP/cni/netns/k$i"
        $RT unshare --net="$BT_TMP/cni/netns/k$i" true
        res=$(cni ADD "k$i" "$bridge_conf")
        pm='{"cniVersion":"1.0.0","name":"bench","type":"portmap","snat":true,"capabilities":{"portMappings":true},"runtimeConfig":{"portMappings":[{"hostPort":'$((41000 + i))',"containerPort":80,"protocol":"tcp"}]},"prevResult":'"$res"'}'
        cni ADD "k$i" "$(echo "$pm" | tr -d '\n')" >/dev/null
    done
    t1=$(now)
    echo "CNI bridge+portmap (netns + veth + address + port, processes included): $(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc) ms per container over $N"
    echo "iptables rules after $N CNI port mappings: $(iptables-save 2>/dev/null | grep -c '^-A')"
    for i in $(seq "$N"); do
        res=$(cni DEL "k$i" "$bridge_conf" 2>/dev/null) || true
        umount "$BT_TMP/cni/netns/k$i" 2>/dev/null || true
    done
else
    echo "CNI plugins (bridge, portmap, host-local) or iptables missing: no side-by-side numbers"
fi

# ---- side by side: netavark ----
# netavark has no IPAM (podman hands it the addresses) and makes no netns
# (podman does): the loop makes the netns with unshare(1), as the CNI part
# does, and gives each container the next address. Its DNS server
# (aardvark-dns) is off; berth writes hosts files instead.
if [ -x $NETAVARK ] && command -v iptables >/dev/null; then
    mkdir -p "$BT_TMP/nv/netns" "$BT_TMP/nv/conf"
    nv_opts() { # I
        printf '{"container_id":"%064x","container_name":"n%s",' "$1" "$1"
        printf '"port_mappings":[{"host_ip":"","container_port":80,"host_port":%s,' "$((43000 + $1))"
        printf '"range":1,"protocol":"tcp"}],'
        printf '"networks":{"nvbench":{"static_ips":["10.89.%s.%s"],' "$(($1 / 200))" "$(($1 % 200 + 2))"
        printf '"interface_name":"eth0","aliases":[]}},'
        printf '"network_info":{"nvbench":{"name":"nvbench","id":"%064x","driver":"bridge",' 1
        printf '"network_interface":"nvbench0","subnets":[{"subnet":"10.89.0.0/16",'
        printf '"gateway":"10.89.0.1"}],"ipv6_enabled":false,"internal":false,'
        printf '"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}\n'
    }
    nv() { # COMMAND I
        nv_opts "$2" >"$BT_TMP/nv/opts.json"
        $RT $NETAVARK --config "$BT_TMP/nv/conf" -f "$BT_TMP/nv/opts.json" "$1" "$BT_TMP/nv/netns/n$2" >/dev/null
    }
    nv_ns() { touch "$BT_TMP/nv/netns/n$1" && $RT unshare --net="$BT_TMP/nv/netns/n$1" true; }
    rules_before=$(iptables-save 2>/dev/null | grep -c '^-A' || true)
    # warm-up, as for berth: the bridge and the firewall chains
    nv_ns 0 && nv setup 0
    t0=$(now)
    for i in $(seq "$N"); do nv_ns "$i" && nv setup "$i"; done
    t1=$(now)
    nv_attach=$(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc)
    echo "netavark $($NETAVARK --version | awk '{print $2}') setup (netns + veth + address + port, processes included): $nv_attach ms per container over $N"
    echo "iptables rules added by netavark for $((N + 1)) containers with a port each:" \
        "$(($(iptables-save 2>/dev/null | grep -c '^-A') - rules_before))"
    t0=$(now)
    for i in $(seq "$N"); do nv teardown "$i" && umount "$BT_TMP/nv/netns/n$i"; done
    t1=$(now)
    nv_teardown=$(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc)
    echo "netavark teardown: $nv_teardown ms per container"
    nv teardown 0 && umount "$BT_TMP/nv/netns/n0"
    echo "netavark / berth: attach $(echo "scale=1; $nv_attach / $berth_attach" | bc)x," \
        "teardown $(echo "scale=1; $nv_teardown / $berth_teardown" | bc)x"
else
    echo "netavark ($NETAVARK) or iptables missing: no side-by-side numbers"
fi
