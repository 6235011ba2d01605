#!/usr/bin/env bash
# Networking benchmark, in a throwaway sandbox (own netns, mount ns, state):
#   - wall time to attach a container: netns + veth + address + routes +
#     hosts/resolv.conf + one published port, measured around the whole
#     `berth network setup` command (process start included, so an upper
#     bound of the library's cost);
#   - nftables rule count and connection set-up time through a published
#     port as the number of published ports grows to 1,000.
# Usage: bench/net-attach.sh [path/to/berth]   (as root)
# The CNI bridge and portmap plugins (what podman uses on hosts without
# netavark) are measured side by side when installed; nothing is pulled.
set -eu
BERTH_BIN=${1:-${BERTH_BIN:-build/cli/berth}}
BERTH_BIN=$(realpath "$BERTH_BIN")
export BERTH_BIN
. "$(dirname "$0")/../tests/lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"

NS=$BERTH_RUNROOT/netns
ms() { echo "scale=3; ($2 - $1) / 1000000" | bc; }
now() { date +%s%N; }

N=${BENCH_CONTAINERS:-50}
bt_berth network create bench >/dev/null
bt_berth network setup --network bench warm >/dev/null
t0=$(now)
for i in $(seq "$N"); do
    bt_berth network setup --network bench -p "$((40000 + i)):80" "c$i" >/dev/null
done
t1=$(now)
echo "attach (berth network setup, process included): $(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc) ms per container over $N"
t0=$(now)
for i in $(seq "$N"); do bt_berth network teardown "c$i"; done
t1=$(now)
echo "teardown: $(echo "scale=3; $(ms "$t0" "$t1") / $N" | bc) ms per container"

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
            -p "$((50000 + published))-$((50000 + published + step - 1)):1-$step" "p$published" >/dev/null
        published=$((published + step))
    done
    echo "published ports: $target  nft rules: $(rules)  connect via published port: $(connect_ms 45000) ms"
done
kill $srv 2>/dev/null || true
wait $srv 2>/dev/null || true
BT_CLEANUP_HOOK=
