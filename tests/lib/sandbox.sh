# Sourced by integration and e2e tests. `bt_sandbox_enter "$0" "$@"` re-runs
# the test as root inside fresh network, mount and pid namespaces, with a
# temporary BERTH_ROOT/BERTH_RUNROOT and a cgroup parent below the test's own
# cgroup, so nothing touches the host's interfaces, mounts or cgroup tree.
# Exit 77 skips the test; BERTH_TEST_STRICT=1 turns a skip into a failure.

bt_skip() {
    echo "SKIP: $*" >&2
    if [ "${BERTH_TEST_STRICT:-0}" = 1 ]; then
        echo "FAIL: skipping is not allowed with BERTH_TEST_STRICT=1" >&2
        exit 1
    fi
    exit 77
}

bt_fail() {
    echo "FAIL: $*" >&2
    exit 1
}

bt_sandbox_enter() {
    local script=$1
    shift
    if [ "${BERTH_IN_SANDBOX:-}" = 1 ]; then
        bt_sandbox_setup
        return 0
    fi
    [ "$(id -u)" = 0 ] || bt_skip "needs root"
    command -v unshare >/dev/null || bt_skip "needs unshare"
    unshare --net --mount --pid --fork --mount-proc true 2>/dev/null ||
        bt_skip "cannot create namespaces here"
    export BERTH_IN_SANDBOX=1
    exec unshare --net --mount --pid --fork --mount-proc --propagation private \
        bash "$script" "$@"
}

bt_sandbox_setup() {
    BT_TMP=$(mktemp -d /tmp/berth-test.XXXXXX)
    # tmpfs so that every mount made below disappears with the namespace.
    mount -t tmpfs -o mode=0755 berth-test "$BT_TMP"
    export BERTH_ROOT=$BT_TMP/root BERTH_RUNROOT=$BT_TMP/run
    export BERTH_CONFIG=$BT_TMP/berth.json
    export BERTH_TEST_TMP=$BT_TMP
    mkdir -p "$BERTH_ROOT" "$BERTH_RUNROOT"
    echo '{}' >"$BERTH_CONFIG"
    # Containers' cgroups go below a group of the test's own, named after its
    # temporary directory ($$ is 1 in the new pid namespace, so it would not
    # tell two tests apart).
    export BERTH_CGROUP_PARENT=berth-test-${BT_TMP##*.}
    ip link set lo up 2>/dev/null || true
    trap bt_sandbox_cleanup EXIT
}

bt_sandbox_cleanup() {
    local rc=$?
    [ -n "${BT_CLEANUP_HOOK:-}" ] && $BT_CLEANUP_HOOK
    # This shell is the pid namespace's init: end whatever the test left
    # running in it (kill -1 spares init), so that the cgroups it used are
    # empty, then remove them. Tests assert "nothing left" themselves; this
    # only keeps a failed test from leaving groups on the host.
    if [ "$$" = 1 ]; then
        kill -KILL -1 2>/dev/null || true
    fi
    local i
    for i in $(seq 50); do
        bt_cgroup_cleanup
        [ -z "$(find /sys/fs/cgroup -type d -name "$BERTH_CGROUP_PARENT*" 2>/dev/null)" ] && break
        sleep 0.1
    done
    cd /
    umount -l "$BT_TMP" 2>/dev/null || true
    rmdir "$BT_TMP" 2>/dev/null || true
    exit $rc
}

# Removes this test's cgroup parent in every hierarchy (deepest first).
bt_cgroup_cleanup() {
    local d
    for d in $(find /sys/fs/cgroup -depth -type d -name "$BERTH_CGROUP_PARENT*" 2>/dev/null); do
        find "$d" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    return 0
}

bt_berth() {
    "$BERTH_BIN" "$@"
}
