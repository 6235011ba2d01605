#!/usr/bin/env bash
# berth runtime on a busybox bundle: what a process inside observes
# (isolation, identity, limits) and the OCI lifecycle commands.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u
command -v python3 >/dev/null || bt_skip "needs python3"

B=$BERTH_TEST_TMP/b
bt_bundle "$B"
cd "$B"

echo "== isolation: PID 1, hostname, no host processes or mounts"
bt_spec_args "$B" sh -c 'echo pid=$$; echo host=$(hostname); ls -d /proc/[0-9]* | wc -l;
    grep -c . /proc/self/mounts; cat /proc/self/mounts; grep CapEff /proc/self/status'
out=$("$BERTH_BIN" runtime run t1) || bt_fail "run failed: $out"
bt_contains "$out" "pid=1"
bt_contains "$out" "host=berth"
nprocs=$(echo "$out" | sed -n 3p)
[ "$nprocs" -le 3 ] || bt_fail "the container sees $nprocs processes"
bt_not_contains "$out" "$BERTH_TEST_TMP"
bt_contains "$out" "proc /proc/sys proc ro"
bt_contains "$out" "sysfs /sys sysfs ro"
# Docker's default capabilities
bt_contains "$out" "CapEff:	00000000a80425fb"
[ ! -e "$BERTH_RUNROOT/runtime/t1" ] || bt_fail "run left its state behind"

echo "== exit codes pass through"
bt_spec_args "$B" sh -c 'exit 7'
"$BERTH_BIN" runtime run t2
[ $? = 7 ] || bt_fail "exit code not passed through"

echo "== seccomp: Docker's profile blocks unshare with EPERM"
bt_spec_args "$B" unshare -U true
out=$("$BERTH_BIN" runtime run t3 2>&1)
rc=$?
[ $rc != 0 ] || bt_fail "unshare succeeded under the default profile"
bt_contains "$out" "Operation not permitted"
# the same without the filter works: it is the filter that blocks
bt_spec "$B" 'del c["linux"]["seccomp"]'
"$BERTH_BIN" runtime run t3b || bt_fail "unshare -U failed without seccomp"
rm "$B/config.json"
"$BERTH_BIN" runtime spec --bundle "$B"

echo "== identity, cwd, env, rlimits, sysctl, read-only root, mounts, devices"
mkdir -p "$BERTH_TEST_TMP/data"
echo hello-from-host >"$BERTH_TEST_TMP/data/file"
bt_spec "$B" '
c["process"]["terminal"] = False
c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [100]}
c["process"]["cwd"] = "/home/app"
c["process"]["env"].append("GREETING=hi there")
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 321, "hard": 654},
                           {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
c["linux"]["sysctl"] = {"kernel.shmmax": "123456789"}
c["root"]["readonly"] = True
c["mounts"].append({"destination": "/data", "type": "bind", "source": "'"$BERTH_TEST_TMP"'/data", "options": ["rbind", "ro"]})
c["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m", "mode=1777"]})
c["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3, "fileMode": 438}]
c["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"})
c["process"]["args"] = ["sh", "-c", """
id; pwd; echo "g=$GREETING"; ulimit -n; ulimit -Hn; cat /proc/sys/kernel/shmmax
touch /rootfile 2>/dev/null && echo root-writable || echo root-readonly
cat /data/file; touch /data/x 2>/dev/null && echo data-writable || echo data-readonly
echo s > /scratch/s && cat /scratch/s
echo x > /dev/mynull && echo mynull-ok
echo y > /proc/sys/kernel/shmmax 2>/dev/null && echo procsys-writable || echo procsys-readonly
"""]'
out=$("$BERTH_BIN" runtime run t4 2>&1) || bt_fail "run failed: $out"
echo "$out"
bt_contains "$out" "uid=1000(app) gid=1000(app) groups=100(users)"
bt_contains "$out" "/home/app"
bt_contains "$out" "g=hi there"
bt_contains "$out" "$(printf '321\n654')"
bt_contains "$out" "123456789"
bt_contains "$out" "root-readonly"
bt_contains "$out" "hello-from-host"
bt_contains "$out" "data-readonly"
bt_contains "$out" "$(printf 's\nmynull-ok')"
bt_contains "$out" "procsys-readonly"
[ -e "$BERTH_TEST_TMP/data/x" ] && bt_fail "a read-only bind mount was written"

echo "== bad input: a sysctl that is not namespaced is refused, nothing is left"
bt_spec "$B" 'c["linux"]["sysctl"] = {"vm.swappiness": "10"}'
out=$("$BERTH_BIN" runtime run t5 2>&1) && bt_fail "a host sysctl was accepted"
bt_contains "$out" "sysctl 'vm.swappiness' is not namespaced"
[ ! -e "$BERTH_RUNROOT/runtime/t5" ] || bt_fail "state left after a refused spec"
rm "$B/config.json"
"$BERTH_BIN" runtime spec --bundle "$B"

echo "== a missing program: clear error, nothing left"
bt_spec_args "$B" /no/such/program
out=$("$BERTH_BIN" runtime run t6 2>&1) && bt_fail "a missing program ran"
bt_contains "$out" "exec '/no/such/program': No such file or directory"
[ ! -e "$BERTH_RUNROOT/runtime/t6" ] || bt_fail "state left after a failed exec"
cg=$(find /sys/fs/cgroup -name t6 2>/dev/null)
[ -z "$cg" ] || bt_fail "cgroup left after a failed exec: $cg"

echo "== lifecycle: create, state, start, exec, kill, delete"
bt_spec_args "$B" sleep 300
"$BERTH_BIN" runtime create --bundle "$B" life || bt_fail "create"
st=$("$BERTH_BIN" runtime state life)
bt_contains "$st" '"status": "created"'
bt_contains "$st" "\"bundle\": \"$B\""
pid=$(echo "$st" | sed -n 's/.*"pid": \([0-9]*\).*/\1/p')
[ -n "$pid" ] && [ "$pid" -gt 0 ] || bt_fail "no pid in state: $st"
"$BERTH_BIN" runtime start life || bt_fail "start"
st=$("$BERTH_BIN" runtime state life)
bt_contains "$st" '"status": "running"'
# start returns once the init was told to go; it execs a moment later
for _ in $(seq 1 100); do
    grep -q sleep "/proc/$pid/cmdline" && break
    sleep 0.02
done
grep -q sleep "/proc/$pid/cmdline" || bt_fail "the init is not running sleep"
"$BERTH_BIN" runtime start life 2>/dev/null && bt_fail "started twice"
out=$("$BERTH_BIN" runtime exec life sh -c 'echo pid=$$; cat /proc/1/cmdline | tr "\0" " "; hostname')
bt_contains "$out" "sleep 300"
bt_contains "$out" "berth"
"$BERTH_BIN" runtime exec life sh -c 'exit 3'
[ $? = 3 ] || bt_fail "exec exit code not passed through"
out=$("$BERTH_BIN" runtime exec -u app -e X=y life sh -c 'id -u; echo $X; grep CapEff /proc/self/status')
bt_contains "$out" "1000"
bt_contains "$out" "y"
bt_contains "$out" "CapEff:	0000000000000000"
"$BERTH_BIN" runtime delete life 2>/dev/null && bt_fail "deleted a running container"
"$BERTH_BIN" runtime kill life KILL || bt_fail "kill"
for _ in $(seq 1 100); do
    "$BERTH_BIN" runtime state life | grep -q '"status": "stopped"' && break
    sleep 0.05
done
"$BERTH_BIN" runtime state life | grep -q '"status": "stopped"' || bt_fail "not stopped after kill"
"$BERTH_BIN" runtime delete life || bt_fail "delete"
"$BERTH_BIN" runtime state life 2>/dev/null && bt_fail "state of a deleted container"
cg=$(find /sys/fs/cgroup -name life 2>/dev/null)
[ -z "$cg" ] || bt_fail "cgroup left after delete: $cg"

echo "== delete --force of a running container"
"$BERTH_BIN" runtime run --detach --bundle "$B" forced || bt_fail "run --detach"
"$BERTH_BIN" runtime state forced | grep -q '"status": "running"' || bt_fail "detached not running"
"$BERTH_BIN" runtime delete --force forced || bt_fail "delete --force"
[ -z "$(find /sys/fs/cgroup -name forced 2>/dev/null)" ] || bt_fail "cgroup left after delete -f"

echo "ok"
