#!/usr/bin/env bash
# berth container and berth-monitor: logs, exit codes, exec, stop with a
# grace period, OOM kills, restart backoff, health checks, log rotation,
# pause, a monitor that dies, and nothing left behind.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u

R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" || bt_skip "no busybox rootfs"
b() { "$BERTH_BIN" "$@"; }
state() { b container inspect -f "$2" "$1"; }
wait_for() { # wait_for SECONDS COMMAND...: polls until the command succeeds
    local end=$((SECONDS + $1))
    shift
    while ! "$@"; do
        [ $SECONDS -lt $end ] || return 1
        sleep 0.05
    done
}

echo "== attached run: output, stderr apart, exit code, hostname is the short id"
out=$(b container run --name one --rootfs "$R" sh -c 'echo out; echo err >&2; hostname; exit 3' 2>"$BERTH_TEST_TMP/err")
[ $? = 3 ] || bt_fail "exit code not passed through"
bt_contains "$out" "out"
bt_not_contains "$out" "err"
bt_contains "$(cat "$BERTH_TEST_TMP/err")" "err"
id=$(state one '{{.Id}}')
bt_contains "$out" "${id:0:12}"
[ "$(state one '{{.State.Status}} {{.State.ExitCode}}')" = "exited 3" ] || bt_fail "state after exit"
b container rm one >/dev/null || bt_fail "rm"

echo "== capabilities, seccomp, read-only root, volumes, ulimits from the command line"
mkdir -p "$BERTH_TEST_TMP/vol"
out=$(b container run --rm --rootfs "$R" --cap-drop ALL --cap-add NET_ADMIN \
    --security-opt seccomp=unconfined --read-only -v "$BERTH_TEST_TMP/vol:/vol" \
    --tmpfs /scratch --ulimit nofile=100:200 --pids-limit 40 -e FOO=bar -w /tmp \
    sh -c 'grep -E "CapEff|Seccomp:" /proc/self/status; touch /x 2>/dev/null || echo ro-root;
           echo hi >/vol/f; echo s >/scratch/s && echo tmpfs-ok; ulimit -n; echo $FOO; pwd;
           cat /sys/fs/cgroup/pids/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids.max')
bt_contains "$out" "CapEff:	0000000000001000"
bt_contains "$out" "Seccomp:	0"
bt_contains "$out" "ro-root"
bt_contains "$out" "tmpfs-ok"
bt_contains "$out" "$(printf '100\nbar\n/tmp\n40')"
[ "$(cat "$BERTH_TEST_TMP/vol/f")" = hi ] || bt_fail "the volume write did not reach the host"

echo "== a missing program: 127 and nothing left"
b container run --rm --rootfs "$R" /no/such/thing 2>"$BERTH_TEST_TMP/err"
[ $? = 127 ] || bt_fail "expected 127 for a missing program"
bt_contains "$(cat "$BERTH_TEST_TMP/err")" "No such file or directory"
[ -z "$(b container ls -a -q)" ] || bt_fail "a failed run left a container"

echo "== detached: ls, logs, exec with user, env, tty and exit codes"
b container run -d --name bg --rootfs "$R" sh -c 'echo hello; exec sleep 300' >/dev/null || bt_fail "run -d"
[ "$(state bg '{{.State.Status}}')" = running ] || bt_fail "not running"
pid=$(state bg '{{.State.Pid}}')
[ "$pid" -gt 0 ] && kill -0 "$pid" || bt_fail "no live pid: $pid"
bt_contains "$(b container ls)" "bg"
wait_for 5 sh -c "\"$BERTH_BIN\" container logs bg | grep -q hello" || bt_fail "logs"
grep -q '"stream":"stdout"' "$BERTH_ROOT/containers/$(state bg '{{.Id}}')/$(state bg '{{.Id}}')-json.log" ||
    bt_fail "the log is not in json-file format"
out=$(b container exec -u app -e X=1 -w /tmp bg sh -c 'id -u; echo X=$X; pwd; tr "\0" " " </proc/1/cmdline')
bt_contains "$out" "1000"
bt_contains "$out" "X=1"
bt_contains "$out" "/tmp"
bt_contains "$out" "sleep 300"
st=$(b container stats bg)
bt_contains "$st" '"pids":1'
top=$(b container top bg)
bt_contains "$top" "$pid "
bt_contains "$top" "sleep 300"
b container exec bg sh -c 'exit 42'
[ $? = 42 ] || bt_fail "exec exit code"
out=$(b container exec -t bg sh -c '[ -t 0 ] && [ -t 1 ] && tty')
bt_contains "$out" "/dev/pts/"

echo "== stop: PID 1 ignores SIGTERM, so the grace period passes, then SIGKILL"
b container events --format json bg >"$BERTH_TEST_TMP/events" &
evpid=$!
sleep 0.2
start=$(date +%s%N)
b container stop -t 1 bg >/dev/null || bt_fail "stop"
ms=$((($(date +%s%N) - start) / 1000000))
[ $ms -ge 900 ] && [ $ms -lt 8000 ] || bt_fail "stop took $ms ms, expected about 1000"
[ "$(state bg '{{.State.Status}} {{.State.ExitCode}}')" = "exited 137" ] || bt_fail "stopped state"
# the event stream ends with the monitor
wait_for 5 sh -c "! kill -0 $evpid 2>/dev/null" || bt_fail "the event stream did not end"
ev=$(cat "$BERTH_TEST_TMP/events")
bt_contains "$ev" '"action":"kill"'
bt_contains "$ev" '"action":"die"'
bt_contains "$ev" '"exitCode":137'

b container rm bg >/dev/null

echo "== stop of a container that handles SIGTERM is quick and clean"
b container run -d --name trap --rootfs "$R" sh -c 'trap "exit 0" TERM; echo ready; while true; do sleep 0.1; done' >/dev/null
# the trap must be in place before the signal comes
wait_for 5 sh -c "\"$BERTH_BIN\" container logs trap | grep -q ready" || bt_fail "trap container not ready"
start=$(date +%s%N)
b container stop -t 10 trap >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
[ $ms -lt 3000 ] || bt_fail "stop of a cooperative container took $ms ms"
[ "$(state trap '{{.State.ExitCode}}')" = 0 ] || bt_fail "exit code after TERM"
b container rm trap >/dev/null

echo "== memory limit: OOM kill, exit 137, OOMKilled"
b container run --name oom --memory 32m --rootfs "$R" sh -c 'x=$(head -c 200000000 /dev/zero | tr "\0" a); echo survived'
rc=$?
[ $rc = 137 ] || bt_fail "OOM exit code $rc"
[ "$(state oom '{{.State.OOMKilled}}')" = true ] || bt_fail "OOMKilled not recorded"
b container rm oom >/dev/null

echo "== restart on-failure:3 with Docker's backoff (100, 200, 400 ms)"
b container run -d --name flaky --restart on-failure:3 --rootfs "$R" sh -c 'cut -d" " -f1 /proc/uptime; exit 1' >/dev/null
wait_for 15 sh -c "[ \"\$(\"$BERTH_BIN\" container inspect -f '{{.State.Status}}' flaky)\" = exited ]" ||
    bt_fail "flaky did not settle"
[ "$(state flaky '{{.State.RestartCount}}')" = 3 ] || bt_fail "restart count $(state flaky '{{.State.RestartCount}}')"
times=$(b container logs flaky)
[ "$(echo "$times" | wc -l)" = 4 ] || bt_fail "expected 4 runs: $times"
echo "$times" | awk 'NR > 1 { d = $1 - prev; print d } { prev = $1 }' >"$BERTH_TEST_TMP/gaps"
python3 - "$BERTH_TEST_TMP/gaps" <<'PY' || bt_fail "backoff does not follow 100/200/400 ms: $(cat "$BERTH_TEST_TMP/gaps")"
import sys
g = [float(x) for x in open(sys.argv[1]).read().split()]
want = [0.1, 0.2, 0.4]
assert len(g) == 3, g
for got, w in zip(g, want):
    assert w - 0.02 <= got <= w + 0.5, (got, w)
assert g[0] < g[1] < g[2], g
PY
b container rm flaky >/dev/null

echo "== a user stop cancels restarts of restart=always"
b container run -d --name always --restart always --rootfs "$R" sh -c 'sleep 0.2; exit 0' >/dev/null
wait_for 5 sh -c "[ \"\$(\"$BERTH_BIN\" container inspect -f '{{.State.RestartCount}}' always)\" -ge 1 ]" ||
    bt_fail "always did not restart"
b container stop -t 1 always >/dev/null || bt_fail "stop always"
[ "$(state always '{{.State.Status}}')" = exited ] || bt_fail "always still $(state always '{{.State.Status}}')"
n=$(state always '{{.State.RestartCount}}')
sleep 0.5
[ "$(state always '{{.State.RestartCount}}')" = "$n" ] || bt_fail "restarted after a user stop"
b container rm always >/dev/null

echo "== health: starting -> healthy -> unhealthy"
b container run -d --name hc --rootfs "$R" --health-cmd 'test -f /tmp/ok && echo fine' \
    --health-interval 200ms --health-retries 2 --health-timeout 2s \
    sh -c 'sleep 0.5; touch /tmp/ok; exec sleep 300' >/dev/null
[ "$(state hc '{{.State.Health.Status}}')" = starting ] || bt_fail "health does not start as starting"
wait_for 5 sh -c "[ \"\$(\"$BERTH_BIN\" container inspect -f '{{.State.Health.Status}}' hc)\" = healthy ]" ||
    bt_fail "never healthy"
bt_contains "$(state hc '{{json .State.Health.Log}}')" '"Output":"fine\n"'
b container exec hc rm /tmp/ok
wait_for 5 sh -c "[ \"\$(\"$BERTH_BIN\" container inspect -f '{{.State.Health.Status}}' hc)\" = unhealthy ]" ||
    bt_fail "never unhealthy"
[ "$(state hc '{{.State.Health.FailingStreak}}')" -ge 2 ] || bt_fail "failing streak"
n=$(python3 -c 'import json,sys; print(len(json.loads(sys.argv[1])))' "$(state hc '{{json .State.Health.Log}}')")
[ "$n" -le 5 ] || bt_fail "health log keeps $n entries"

echo "== a probe that outlives its timeout counts as a failure and is killed"
b container run -d --name slow --rootfs "$R" --health-cmd 'sleep 5' --health-interval 200ms \
    --health-timeout 300ms --health-retries 1 sleep 300 >/dev/null
wait_for 5 sh -c "[ \"\$(\"$BERTH_BIN\" container inspect -f '{{.State.Health.Status}}' slow)\" = unhealthy ]" ||
    bt_fail "a timed-out probe did not make it unhealthy"
log=$(state slow '{{json .State.Health.Log}}')
bt_contains "$log" '"ExitCode":-1'
bt_contains "$log" "Health check exceeded timeout"
n=$(b container exec slow sh -c 'ps | grep -c "[s]leep 5"')
[ "$n" -le 1 ] || bt_fail "timed-out probes keep running: $n"
b container rm -f slow >/dev/null

echo "== pause and unpause"
b container pause hc >/dev/null || bt_fail "pause"
[ "$(state hc '{{.State.Status}}')" = paused ] || bt_fail "not paused"
b container unpause hc >/dev/null || bt_fail "unpause"
[ "$(state hc '{{.State.Status}}')" = running ] || bt_fail "not running after unpause"
b container rm hc 2>/dev/null && bt_fail "removed a running container without -f"
b container rm -f hc >/dev/null || bt_fail "rm -f"

echo "== log rotation: max-size 1k, max-file 3"
b container run --name chatty --log-opt max-size=1k --log-opt max-file=3 --rootfs "$R" \
    sh -c 'for i in $(seq 1 200); do echo line-$i; done' >/dev/null
id=$(state chatty '{{.Id}}')
log=$BERTH_ROOT/containers/$id/$id-json.log
[ -f "$log" ] && [ -f "$log.1" ] && [ -f "$log.2" ] || bt_fail "rotated files missing: $(ls "$BERTH_ROOT/containers/$id")"
[ ! -e "$log.3" ] || bt_fail "more than max-file files kept"
for f in "$log" "$log.1" "$log.2"; do
    [ "$(stat -c %s "$f")" -le 1100 ] || bt_fail "$f is larger than max-size"
done
bt_contains "$(b container logs chatty | tail -n 1)" "line-200"
b container rm chatty >/dev/null

echo "== a container whose monitor died can still be inspected, stopped and removed"
b container run -d --name orphan --rootfs "$R" sleep 300 >/dev/null
mpid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["MonitorPid"])' \
    "$BERTH_ROOT/containers/$(state orphan '{{.Id}}')/state.json")
kill -KILL "$mpid"
wait_for 5 sh -c "! kill -0 $mpid 2>/dev/null" || bt_fail "monitor did not die"
bt_contains "$(state orphan '{{.State.Error}}')" "monitor is gone"
cpid=$(state orphan '{{.State.Pid}}')
b container stop -t 1 orphan >/dev/null || bt_fail "stop without a monitor"
wait_for 5 sh -c "! kill -0 $cpid 2>/dev/null" || bt_fail "container survived the stop"
b container rm orphan >/dev/null || bt_fail "rm without a monitor"

echo "== a container whose monitor and process both died: exit status unknown, never 0"
b container run -d --name lost --rootfs "$R" sleep 300 >/dev/null
mpid=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["MonitorPid"])' \
    "$BERTH_ROOT/containers/$(state lost '{{.Id}}')/state.json")
cpid=$(state lost '{{.State.Pid}}')
kill -KILL "$mpid"
wait_for 5 sh -c "! kill -0 $mpid 2>/dev/null" || bt_fail "monitor did not die"
kill -KILL "$cpid"
wait_for 5 sh -c "! kill -0 $cpid 2>/dev/null" || bt_fail "container did not die"
[ "$(state lost '{{.State.Status}} {{.State.ExitCode}}')" = "exited 255" ] ||
    bt_fail "lost container: $(state lost '{{.State.Status}} {{.State.ExitCode}}')"
b container rm lost >/dev/null || bt_fail "rm lost"

echo "== init: true forwards the stop signal and reaps orphans"
b container run -d --init --name ini --rootfs "$R" sh -c '(sleep 0.1 &); exec sleep 300' >/dev/null
sleep 0.5
z=$(b container exec ini sh -c 'grep -l "^State:.*Z" /proc/[0-9]*/status 2>/dev/null')
[ -z "$z" ] || bt_fail "zombies under init: $z"
start=$(date +%s%N)
b container stop -t 10 ini >/dev/null
ms=$((($(date +%s%N) - start) / 1000000))
[ $ms -lt 3000 ] || bt_fail "stop under init took $ms ms: the signal was not forwarded"
[ "$(state ini '{{.State.ExitCode}}')" = 143 ] || bt_fail "exit code under init: $(state ini '{{.State.ExitCode}}')"
b container rm ini >/dev/null

echo "== an overlay root: writes land in the upper dir, the mount stays inside"
mkdir -p "$BERTH_TEST_TMP/upper" "$BERTH_TEST_TMP/work" "$BERTH_TEST_TMP/spec"
b runtime spec --bundle "$BERTH_TEST_TMP/spec"
python3 - "$BERTH_TEST_TMP" "$R" <<'PY' || bt_fail "writing the overlay config"
import json, sys
tmp, lower = sys.argv[1], sys.argv[2]
spec = json.load(open(tmp + "/spec/config.json"))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["sh", "-c", "echo new > /newfile; cat /etc/hostname; grep -c overlay /proc/self/mounts"]
json.dump({"name": "ovl", "spec": spec,
           "rootfs": {"lower": [lower], "upper": tmp + "/upper", "work": tmp + "/work"}},
          open(tmp + "/ovl.json", "w"))
PY
out=$(b container run --config "$BERTH_TEST_TMP/ovl.json") || bt_fail "overlay run: $out"
bt_contains "$out" "berth-test"
[ "$(cat "$BERTH_TEST_TMP/upper/newfile")" = new ] || bt_fail "the write did not land in upper"
[ ! -e "$R/newfile" ] || bt_fail "the lower dir was written"
grep -q " overlay " /proc/self/mountinfo && bt_fail "an overlay mount leaked to the host"
b container rm ovl >/dev/null

echo "== bad input is refused with a reason and leaves nothing"
out=$(b container run --rootfs "$R" --restart sometimes true 2>&1) && bt_fail "bad restart policy accepted"
bt_contains "$out" "invalid restart policy 'sometimes'"
out=$(b container run --rootfs "$R" --sysctl vm.swappiness=1 true 2>&1) && bt_fail "host sysctl accepted"
bt_contains "$out" "not namespaced"
out=$(b container run --rootfs "$BERTH_TEST_TMP/nope" true 2>&1) && bt_fail "missing rootfs accepted"
bt_contains "$out" "is not a directory"

echo "== nothing left behind"
[ -z "$(b container ls -a -q)" ] || bt_fail "containers left"
left=$(find /sys/fs/cgroup -path "*/$BERTH_CGROUP_PARENT/*" -type d 2>/dev/null)
[ -z "$left" ] || bt_fail "cgroups left: $left"
pgrep -f "berth-monitor" >/dev/null && bt_fail "monitors left: $(pgrep -af berth-monitor)"
echo ok
