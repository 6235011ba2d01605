#!/usr/bin/env bash
# berth runtime and cgroups: the memory limit OOM-kills (exit 137) while the
# host is unharmed, pids_limit stops a fork bomb, cpu/memory values are
# visible inside, and nothing is left in the cgroup tree.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u
command -v python3 >/dev/null || bt_skip "needs python3"
[ -d /sys/fs/cgroup/memory ] || [ -f /sys/fs/cgroup/cgroup.controllers ] || bt_skip "no cgroups"

B=$BERTH_TEST_TMP/b
bt_bundle "$B"

echo "== memory limit: OOM kill, exit 137"
bt_spec "$B" '
c["linux"]["resources"]["memory"] = {"limit": 32 * 1024 * 1024}
c["process"]["args"] = ["sh", "-c", "x=$(head -c 200000000 /dev/zero | tr \"\\\\0\" a); echo survived"]'
out=$("$BERTH_BIN" runtime run --bundle "$B" oom 2>&1)
rc=$?
[ $rc = 137 ] || bt_fail "expected exit 137 after the OOM kill, got $rc: $out"
bt_not_contains "$out" "survived"
echo "host is fine: $(echo alive)"

echo "== limits are visible inside"
bt_spec "$B" '
c["linux"]["resources"]["memory"] = {"limit": 64 * 1024 * 1024}
c["linux"]["resources"]["cpu"] = {"shares": 512, "quota": 50000, "period": 100000}
c["linux"]["resources"]["pids"] = {"limit": 30}
c["process"]["args"] = ["sh", "-c", "cd /sys/fs/cgroup; cat memory/memory.limit_in_bytes cpu/cpu.shares cpu/cpu.cfs_quota_us pids/pids.max 2>/dev/null || cat memory.max cpu.weight cpu.max pids.max"]'
out=$("$BERTH_BIN" runtime run --bundle "$B" lim 2>&1) || bt_fail "run: $out"
echo "$out"
bt_contains "$out" "67108864"
bt_contains "$out" "30"

echo "== pids limit stops a fork bomb"
bt_spec "$B" '
c["linux"]["resources"] = {"pids": {"limit": 20}}
c["process"]["args"] = ["sh", "-c", "(for i in $(seq 1 60); do sleep 30 & done) 2>/dev/null; set -- /proc/[0-9]*; echo $#"]'
out=$(timeout 60 "$BERTH_BIN" runtime run --bundle "$B" bomb 2>&1)
n=$(echo "$out" | tail -n 1)
[ -n "$n" ] && [ "$n" -le 20 ] && [ "$n" -ge 10 ] || bt_fail "expected at most 20 processes, saw: $out"

echo "== nothing left behind"
left=$(find /sys/fs/cgroup -path "*berth-test-$$/*" -type d 2>/dev/null)
[ -z "$left" ] || bt_fail "cgroups left: $left"
echo ok
