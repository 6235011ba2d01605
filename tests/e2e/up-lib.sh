# Shared by the up/down/lifecycle/ps e2e tests (sourced after the sandbox
# is entered): the offline test image, small assertions and the leftover
# check that every test ends with.

b() { "$BERTH_BIN" "$@"; }
expect_eq() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }
expect_not_in() { case "$1" in *"$2"*) bt_fail "$3: '$2' in: $1" ;; *) ;; esac; }

# The busybox test image (sh, /srv/www/index.html, a healthcheck), loaded
# into this sandbox's store as berth-test/busybox:latest.
up_image() {
    bash "$BERTH_SOURCE_DIR/tests/fixtures/image/make-test-image.sh" "$BERTH_TEST_TMP/img" \
        berth-test/busybox:latest >/dev/null || bt_skip "cannot build the test image"
    b load -q -i "$BERTH_TEST_TMP/img/image.tar" >/dev/null || bt_fail "load the test image"
}

# A project directory with the given compose.yaml on stdin; cds into it.
up_project() {
    P=$BERTH_TEST_TMP/${1:-demo}
    mkdir -p "$P"
    cat >"$P/compose.yaml"
    cd "$P" || bt_fail "cd $P"
}

# Waits (bounded) until CMD succeeds.
wait_for() {
    local tries=$1
    shift
    while [ "$tries" -gt 0 ]; do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.1
        tries=$((tries - 1))
    done
    return 1
}

# Nothing of any project may remain: container dirs, monitors, links other
# than lo, nft map elements, mounts under the roots, netns files, cgroups.
assert_nothing_left() {
    local what=${1:-after down}
    local left
    left=$(ls "$BERTH_ROOT/containers" 2>/dev/null)
    [ -z "$left" ] || bt_fail "$what: container dirs left: $left"
    left=$(ls "$BERTH_RUNROOT/containers" 2>/dev/null)
    [ -z "$left" ] || bt_fail "$what: container run dirs left: $left"
    left=$(pgrep -a berth-monitor 2>/dev/null)
    [ -z "$left" ] || bt_fail "$what: monitors left: $left"
    left=$(ip -o link show | grep -v ': lo:')
    [ -z "$left" ] || bt_fail "$what: links left: $left"
    left=$(ls "$BERTH_RUNROOT/netns" 2>/dev/null)
    [ -z "$left" ] || bt_fail "$what: netns files left: $left"
    # (RUNROOT/netns itself is a shared mount point made once, like ip netns')
    left=$(grep -e "$BERTH_ROOT" -e "$BERTH_RUNROOT" /proc/self/mountinfo |
        awk -v ns="$BERTH_RUNROOT/netns" '$5 != ns')
    [ -z "$left" ] || bt_fail "$what: mounts left: $left"
    if command -v nft >/dev/null; then
        left=$(nft -j list table inet berth 2>/dev/null | python3 -c '
import json, sys
try:
    doc = json.load(sys.stdin)
except Exception:
    sys.exit(0)
for o in doc.get("nftables", []):
    for kind in ("map", "set"):
        m = o.get(kind)
        if m and m.get("elem"):
            print(kind, m["name"], m["elem"])')
        [ -z "$left" ] || bt_fail "$what: nft elements left: $left"
    fi
    left=$(find /sys/fs/cgroup -mindepth 2 -type d -path "*/$BERTH_CGROUP_PARENT/*" 2>/dev/null)
    [ -z "$left" ] || bt_fail "$what: cgroups left: $left"
}
