# Shared by the published-port e2e tests (sourced after up-lib.sh): python3
# for the probes, the background processes a test starts, and a restart by
# the restart policy.

PY=/usr/bin/python3
[ -x $PY ] || bt_skip "needs python3"

# Processes the test started in the background (servers, squatters); the
# sandbox's cleanup ends them.
PIDS=()
kill_started() {
    local p
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    PIDS=()
}
BT_CLEANUP_HOOK=kill_started

# kill_and_wait_restart CONTAINER: kills its process and waits (bounded)
# until the restart policy runs it again.
kill_and_wait_restart() {
    local name=$1 old
    old=$(b inspect -f '{{.State.Pid}}' "$name") || bt_fail "inspect $name"
    kill -KILL "$old"
    restarted() {
        local p
        p=$(b inspect -f '{{.State.Pid}}' "$name") && [ "$p" != "$old" ] && [ "$p" != 0 ] &&
            [ "$(b inspect -f '{{.State.Status}}' "$name")" = running ]
    }
    wait_for 100 restarted || bt_fail "$name was not restarted"
}
