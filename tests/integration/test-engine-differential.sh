#!/usr/bin/env bash
# One bundle, two runtimes: `crun run` and `berth runtime run` must give the
# process inside the same world — mounts, capabilities, namespaces, rlimits,
# identity, seccomp effect, devices and cgroup limits.
#
# Both runtimes get the cgroup under the test's own cgroup: the probe runs in
# a child cgroup of ours, inside a cgroup namespace with the v1 hierarchies
# remounted, so crun's cgroupsPath (taken from the hierarchy's root) and
# berth's (taken from the caller's own group) name the same place.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u
command -v python3 >/dev/null || bt_skip "needs python3"
command -v crun >/dev/null || bt_skip "needs crun"
[ -d /sys/fs/cgroup/memory ] || bt_skip "the differential test drives cgroup v1 hierarchies"

B=$BERTH_TEST_TMP/b
bt_bundle "$B"
hostns=$(for n in cgroup ipc mnt net pid user uts; do echo "$n=$(readlink /proc/self/ns/$n)"; done | tr '\n' ' ')
bt_spec "$B" '
c["hostname"] = "diff"
c["process"]["env"].append("HOSTNS='"$hostns"'")
c["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [100]}
c["process"]["cwd"] = "/home/app"
c["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024},
                           {"type": "RLIMIT_NPROC", "soft": 200, "hard": 300},
                           {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]
c["linux"]["resources"]["memory"] = {"limit": 96 * 1024 * 1024, "reservation": 32 * 1024 * 1024}
c["linux"]["resources"]["cpu"] = {"shares": 256, "quota": 20000, "period": 100000}
c["linux"]["resources"]["pids"] = {"limit": 50}
c["linux"]["sysctl"] = {"kernel.shmmni": "2048"}
c["mounts"].append({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "size=1m"]})
c["process"]["args"] = ["/probe.sh"]'
cat >"$B/rootfs/probe.sh" <<'PROBE'
#!/bin/sh
echo "# identity"; id; pwd; hostname
echo "# env"; env | grep -v '^PWD=\|^SHLVL=\|^HOSTNS=' | sort
echo "# namespaces (new or the host's)"
for n in cgroup ipc mnt net pid user uts; do
    mine=$(readlink /proc/self/ns/$n)
    case " $HOSTNS " in *" $n=$mine "*) echo "$n host" ;; *) echo "$n new" ;; esac
done
echo "# status"; grep -E '^(Cap|NoNewPrivs|Seccomp:)' /proc/self/status
echo "# limits"; cat /proc/self/limits
echo "# mounts"
# the tmpfs under /sys/fs/cgroup is left out: crun keeps it writable even
# when the spec says ro (its controllers are ro either way)
awk '$2 != "/sys/fs/cgroup" { split($4, o, ","); print $2, o[1] }' /proc/self/mounts | sort
echo "# dev"; ls -l /dev | awk '{print $1, $NF}' | sort
echo "# cgroup"
cat /proc/self/cgroup | sed 's/^[0-9]*://' | sort
cd /sys/fs/cgroup
cat memory/memory.limit_in_bytes memory/memory.soft_limit_in_bytes cpu/cpu.shares \
    cpu/cpu.cfs_quota_us cpu/cpu.cfs_period_us pids/pids.max
echo "# sysctl"; cat /proc/sys/kernel/shmmni
echo "# seccomp"; unshare -U true 2>&1 | sed 's/^[^:]*: //'
echo "# write checks"
touch /proc/sys/x 2>&1 | sed 's/^[^:]*: //'
echo x > /scratch/x && echo scratch-ok
PROBE
chmod 755 "$B/rootfs/probe.sh"

# The probe's own cgroup: a child of ours in every v1 hierarchy.
grp=berth-test-$$
inner=$BERTH_TEST_TMP/inner.sh
cat >"$inner" <<INNER
set -u
while IFS=: read -r _ ctl path; do
    [ -n "\$ctl" ] || continue
    case "\$ctl" in name=*) dir=\${ctl#name=} ;; *) dir=\$ctl ;; esac
    d=/sys/fs/cgroup/\$dir\$path/$grp
    [ -d "/sys/fs/cgroup/\$dir" ] || continue
    mkdir -p "\$d"
    if [ -f "\$d/cpuset.cpus" ]; then
        cat "\$d/../cpuset.cpus" >"\$d/cpuset.cpus"
        cat "\$d/../cpuset.mems" >"\$d/cpuset.mems"
    fi
    echo \$\$ >"\$d/cgroup.procs"
done </proc/self/cgroup
exec unshare --cgroup --mount --propagation private bash -c '
    set -e
    umount /sys/fs/cgroup/unified 2>/dev/null || true # crun refuses hybrid hierarchies
    while IFS=: read -r _ ctl _; do
        [ -n "\$ctl" ] || continue
        case "\$ctl" in name=*) dir=\${ctl#name=}; opt="none,\$ctl" ;; *) dir=\$ctl; opt=\$ctl ;; esac
        [ -d "/sys/fs/cgroup/\$dir" ] || continue
        # the same hierarchy cannot be stacked on itself: replace it
        umount "/sys/fs/cgroup/\$dir"
        mount -t cgroup -o "\$opt" cgroup "/sys/fs/cgroup/\$dir"
    done </proc/self/cgroup
    cd "$B"
    crun --root "$BERTH_TEST_TMP/crun" run diff-crun >"$BERTH_TEST_TMP/crun.out" 2>&1
    echo "crun rc=\$?" >>"$BERTH_TEST_TMP/crun.out"
    BERTH_CGROUP_PARENT= "$BERTH_BIN" runtime run diff-berth >"$BERTH_TEST_TMP/berth.out" 2>&1
    echo "berth rc=\$?" | sed s/berth/crun/ >>"$BERTH_TEST_TMP/berth.out"
'
INNER
bash "$inner" || bt_fail "could not set up the shared cgroup"
cat "$BERTH_TEST_TMP/berth.out"
grep -q "^crun rc=0" "$BERTH_TEST_TMP/crun.out" || bt_fail "crun failed: $(cat "$BERTH_TEST_TMP/crun.out")"
grep -q "^# cgroup" "$BERTH_TEST_TMP/berth.out" || bt_fail "berth failed"
diff -u "$BERTH_TEST_TMP/crun.out" "$BERTH_TEST_TMP/berth.out" || bt_fail "crun and berth differ"
echo ok
