#!/usr/bin/env bash
# network connect/disconnect on a running container: a new interface with
# its address and names, the default route handed over when its network
# goes, hosts files following, and clear refusals.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
# These tests make no cgroups. Inside a pid namespace $$ is 1 for every
# test, so the sandbox's cgroup sweep would reach other tests' groups.
bt_cgroup_cleanup() { :; }
set -eu
command -v nft >/dev/null || bt_skip "needs nft"
NS=$BERTH_RUNROOT/netns
PIDS=()
kill_started() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
}
BT_CLEANUP_HOOK=kill_started
expect_fail() { # MESSAGE-PART CMD...
    local want=$1 out rc=0
    shift
    out=$("$@" 2>&1) || rc=$?
    [ $rc != 0 ] || bt_fail "succeeded: $*"
    echo "$out" | grep -qF -- "$want" || bt_fail "'$*' said '$out', expected '$want'"
}

bt_berth network create --subnet 10.61.0.0/24 front >/dev/null
bt_berth network create --subnet 10.62.0.0/24 back >/dev/null
bt_berth network setup --network front --name demo-app-1 --service app app1 >/dev/null
bt_berth network setup --network back --name demo-db-1 --service db db1 >/dev/null
grep -q 'db' "$BERTH_RUNROOT/net/containers/app1/hosts" && bt_fail "app sees db before connect"

# connect by container name, with a static address and an alias
bt_berth network connect --ip 10.62.0.50 --alias app-on-back back demo-app-1
nsenter --net="$NS/app1" ip -o -4 addr show eth1 | grep -q 'inet 10.62.0.50/24' ||
    bt_fail "no eth1 with the static address"
grep -qE '^10\.62\.0\.50\s+app demo-app-1 app-on-back$' "$BERTH_RUNROOT/net/containers/db1/hosts" ||
    bt_fail "db does not see app on back: $(cat "$BERTH_RUNROOT/net/containers/db1/hosts")"
grep -qE '\sdb demo-db-1$' "$BERTH_RUNROOT/net/containers/app1/hosts" || bt_fail "app does not see db"
nsenter --net="$NS/db1" busybox nc -ll -p 5432 -e echo db-ok &
PIDS+=($!)
for _ in $(seq 100); do
    nsenter --net="$NS/db1" cat /proc/net/tcp /proc/net/tcp6 | grep -qi ":$(printf '%04X' 5432) " && break
    sleep 0.05
done
db_ip=$(nsenter --net="$NS/db1" ip -o -4 addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
[ "$(nsenter --net="$NS/app1" timeout 3 busybox nc "$db_ip" 5432 </dev/null)" = db-ok ] ||
    bt_fail "app cannot reach db after connect"

expect_fail "already attached to network back" bt_berth network connect back app1
expect_fail "container nope is not on any network" bt_berth network connect back nope
expect_fail "network nope not found" bt_berth network connect nope app1

# disconnect the network with the default route: back takes it over
nsenter --net="$NS/app1" ip route | grep -q '^default via 10.61.0.1 dev eth0' || bt_fail "default via front"
bt_berth network disconnect front app1
nsenter --net="$NS/app1" ip -o link show eth0 >/dev/null 2>&1 && bt_fail "eth0 still there"
nsenter --net="$NS/app1" ip route | grep -q '^default via 10.62.0.1 dev eth1' ||
    bt_fail "default route not handed over: $(nsenter --net="$NS/app1" ip route)"
bt_berth network inspect front | grep -q '"app1"' && bt_fail "lease kept on front"
expect_fail "is not connected to network front" bt_berth network disconnect front app1
bt_berth network disconnect -f front app1 || bt_fail "disconnect -f of a container not connected"

# published ports pin their network
bt_berth network setup --network front -p 8080:80 --name demo-web-1 web1 >/dev/null
bt_berth network connect back web1
expect_fail "publishes ports through network front" bt_berth network disconnect front web1
bt_berth network disconnect back web1

# ---- teardown ----
kill_started
PIDS=()
for c in app1 db1 web1; do bt_berth network teardown $c; done
bt_berth network rm front back >/dev/null
[ -z "$(ip -o link | grep -v ': lo:')" ] || bt_fail "links left"
[ -z "$(nft list ruleset)" ] || bt_fail "nft left"
[ -z "$(ls -A "$NS")" ] || bt_fail "netns files left"
echo PASS
