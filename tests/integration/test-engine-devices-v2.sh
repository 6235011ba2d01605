#!/usr/bin/env bash
# berth engine on cgroup v2: the device rules become a BPF device program on
# the container's cgroup. With Docker's default list a process in the group
# opens /dev/null and /dev/zero, may mknod a block device but gets EPERM
# opening it (and /dev/mem); a later deny rule wins over an earlier allow;
# attaching again replaces the old program; the group is removed at the end.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

HELPER=$BERTH_BUILD_DIR/tests/fixtures/engine/devbpf-helper
[ -x "$HELPER" ] || bt_fail "missing $HELPER (build first)"

# The cgroup2 mount (field 5 of mountinfo, fstype after the " - ").
mnt=$(awk '{for (i = 7; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "cgroup2") print $5; break }}' \
    /proc/self/mountinfo | head -n1)
[ -n "$mnt" ] || bt_skip "no cgroup2 mount"
own=$(sed -n 's/^0:://p' /proc/self/cgroup)
CG=${mnt%/}${own%/}/$BERTH_CGROUP_PARENT
mkdir "$CG" || bt_fail "cannot create $CG"
cleanup_cg() { rmdir "$CG" 2>/dev/null || true; }
BT_CLEANUP_HOOK=cleanup_cg

# Runs a shell command inside the cgroup; prints its output and status.
in_cg() {
    bash -c 'echo $$ >"$1/cgroup.procs" || exit 99; shift; eval "$1"' in_cg "$CG" "$1" 2>&1
}

DOCKER_DEFAULT=("deny a" "allow c *:* m" "allow b *:* m" "allow c 1:3 rwm" "allow c 1:5 rwm"
    "allow c 1:7 rwm" "allow c 1:8 rwm" "allow c 1:9 rwm" "allow c 5:0 rwm" "allow c 5:1 rwm"
    "allow c 5:2 rwm" "allow c 136:* rwm" "allow c 10:200 rwm")
"$HELPER" "$CG" "${DOCKER_DEFAULT[@]}" || bt_fail "attaching the device program failed"

# A block device: the first one the kernel knows, else loop0 (7:0).
blk=$(ls /sys/dev/block 2>/dev/null | head -n1)
blk=${blk:-7:0}
N=$BERTH_TEST_TMP/nodes
mkdir -p "$N"

echo "== control: outside the group the block node is not refused by a device program"
mknod "$N/outside" b "${blk%:*}" "${blk#*:}" || bt_fail "mknod outside the group"
out=$(head -c1 "$N/outside" 2>&1 >/dev/null)
case $out in *"Operation not permitted"*) bt_fail "EPERM outside the group: $out" ;; esac

echo "== allowed devices open"
out=$(in_cg 'cat /dev/null && head -c 4 /dev/zero | wc -c && echo x >/dev/null && echo ok')
[ "$(echo "$out" | tail -n1)" = ok ] || bt_fail "allowed devices refused: $out"
echo "$out" | grep -qx 4 || bt_fail "reading /dev/zero: $out"

echo "== mknod of a block device works, opening it is refused"
out=$(in_cg "mknod '$N/blk' b ${blk%:*} ${blk#*:} && echo made; head -c1 '$N/blk' >/dev/null")
echo "$out" | grep -qx made || bt_fail "mknod refused (b *:* m is allowed): $out"
echo "$out" | grep -q "Operation not permitted" || bt_fail "opening block $blk not refused: $out"
out=$(in_cg "mknod '$N/mem' c 1 1 && head -c1 '$N/mem' >/dev/null")
echo "$out" | grep -q "Operation not permitted" || bt_fail "opening /dev/mem (1:1) not refused: $out"
out=$(in_cg "head -c1 /dev/kmsg >/dev/null")
echo "$out" | grep -q "Operation not permitted" || bt_fail "opening /dev/kmsg not refused: $out"

echo "== attaching again replaces the program; the last matching rule wins"
"$HELPER" "$CG" "allow a" "deny c 1:5 w" || bt_fail "attaching the second program failed"
out=$(in_cg 'head -c1 "'"$N/blk"'" >/dev/null 2>&1; echo blk=$?; head -c 2 /dev/zero | wc -c')
echo "$out" | grep -qx "blk=0" || echo "$out" | grep -q "No such device" ||
    bt_fail "old program still refuses the block device: $out"
echo "$out" | grep -qx 2 || bt_fail "reading /dev/zero refused: $out"
out=$(in_cg 'echo x >/dev/zero && echo wrote')
echo "$out" | grep -q "Operation not permitted" || bt_fail "writing /dev/zero allowed: $out"
echo "$out" | grep -q wrote && bt_fail "writing /dev/zero allowed: $out"

echo "== bad rules are refused with a clear error"
out=$("$HELPER" "$CG" "deny a" "allow b 8:99999999999 r" 2>&1) && bt_fail "accepted a bad rule"
echo "$out" | grep -q "out of range" || bt_fail "unclear error: $out"
out=$("$HELPER" "$BERTH_TEST_TMP/not-a-cgroup" "deny a" 2>&1) && bt_fail "attached to no cgroup"
echo "$out" | grep -q "not-a-cgroup" || bt_fail "unclear error: $out"

echo "== the group is removed"
rmdir "$CG" || bt_fail "cannot remove $CG"
[ ! -e "$CG" ] || bt_fail "$CG left behind"
echo PASS
