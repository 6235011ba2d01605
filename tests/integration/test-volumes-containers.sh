#!/usr/bin/env bash
# The mount objects berth describes, given to a real OCI runtime (crun, as
# a stand-in until berth's own runtime runs containers): data one container
# writes to a named volume is read by the next; a read-only bind refuses
# writes and shows host changes live; tmpfs honours its size; copy-up gives
# a new volume the image's files with their owners, nocopy does not; a
# driver-options tmpfs volume is mounted for its users only.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

helper=$BERTH_BUILD_DIR/tests/fixtures/volumes/vol-helper
[ -x "$helper" ] || bt_fail "vol-helper is not built"
command -v crun >/dev/null || bt_skip "needs crun"
expect_eq() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }
T=$BERTH_TEST_TMP
V=$BERTH_ROOT/volumes

# crun 1.8 refuses a hybrid cgroup layout; inside this test's own mount
# namespace the empty v2 hierarchy is simply not there.
if mountpoint -q /sys/fs/cgroup/unified; then
    umount /sys/fs/cgroup/unified || bt_skip "cannot hide the hybrid cgroup2 mount"
fi

# The image: the busybox root, plus content at /var/lib/app for copy-up.
rootfs=$T/rootfs
"$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$rootfs" >/dev/null || bt_fail "rootfs"
mkdir -p "$rootfs/var/lib/app/conf.d" "$rootfs/data" "$rootfs/srv" "$rootfs/scratch"
echo "listen 80" >"$rootfs/var/lib/app/conf.d/app.conf"
chown -R 1000:1000 "$rootfs/var/lib/app/conf.d"
chmod 0640 "$rootfs/var/lib/app/conf.d/app.conf"

(cd "$T" && crun spec) || bt_fail "crun spec"
n=0
# run_ctr SHELL-COMMAND MOUNT-JSON...: runs a container, prints its output,
# returns its exit status. CTR_UID=N runs it as uid and gid N.
run_ctr() {
    local cmd=$1
    shift
    n=$((n + 1))
    local b=$T/bundle$n
    mkdir -p "$b"
    python3 - "$T/config.json" "$b/config.json" "$rootfs" "$cmd" "$@" <<'PY' || return 99
import json, os, sys
src, dst, rootfs, cmd, *mounts = sys.argv[1:]
c = json.load(open(src))
c["root"] = {"path": rootfs, "readonly": True}
c["process"]["terminal"] = False
c["process"]["args"] = ["/bin/sh", "-c", cmd]
uid = int(os.environ.get("CTR_UID", "0"))
c["process"]["user"] = {"uid": uid, "gid": uid}
c["linux"].pop("resources", None)
c["mounts"] += [json.loads(m)["mount"] for m in mounts]
json.dump(c, open(dst, "w"))
PY
    timeout 30 crun --root "$T/crun" --cgroup-manager=disabled run --bundle "$b" "ctr$n" </dev/null
}
resolve() { "$helper" resolve "$@" || bt_fail "resolve $*"; }
volume_of() { python3 -c 'import json,sys; print(json.load(sys.stdin)["volume"])'; }

# ---- a named volume outlives its container and is shared ----
m=$(resolve shared:/data)
"$helper" acquire shared c1 demo-writer-1 || bt_fail "acquire"
out=$(run_ctr 'echo "written by one" >/data/msg && echo ok' "$m") || bt_fail "writer: $out"
"$helper" release shared c1
[ "$(cat "$V/shared/_data/msg")" = "written by one" ] || bt_fail "data not in the volume"
"$helper" acquire shared c2 demo-reader-1 || bt_fail "acquire 2"
out=$(run_ctr 'cat /data/msg' "$(resolve shared:/data:ro)") || bt_fail "reader: $out"
expect_eq "$out" "written by one" "second container reads the first one's data"
err=$(bt_berth volume rm shared 2>&1) && bt_fail "rm of a volume in use"
expect_in "$err" "demo-reader-1" "in use by the reader"
"$helper" release shared c2

# ---- bind: read-only refuses writes; host changes show live ----
host=$T/site
m=$(resolve "$host:/srv:ro")
[ -d "$host" ] || bt_fail "short syntax did not create the host dir"
out=$(run_ctr 'echo x >/srv/f' "$m" 2>&1) && bt_fail "write to a :ro bind succeeded"
[ ! -e "$host/f" ] || bt_fail "a :ro bind wrote to the host"
run_ctr 'i=0; while [ $i -lt 100 ]; do [ -f /srv/live ] && exec cat /srv/live; sleep 0.1; i=$((i+1)); done; exit 1' \
    "$m" >"$T/live.out" 2>&1 &
pid=$!
sleep 0.5
echo "changed on the host" >"$host/live"
wait "$pid" || bt_fail "container never saw the host change: $(cat "$T/live.out")"
expect_eq "$(cat "$T/live.out")" "changed on the host" "live bind"

# ---- tmpfs honours its size ----
m=$(resolve --tmpfs /scratch:size=1m)
out=$(run_ctr 'df -k /scratch | tail -1; dd if=/dev/zero of=/scratch/f bs=64k count=32 2>&1 && echo FITS' "$m") && true
expect_in "$out" "1024" "tmpfs size in df"
case "$out" in *FITS*) bt_fail "2 MiB fit in a 1 MiB tmpfs" ;; esac

# ---- copy-up, once, with owners; nocopy ----
m=$(resolve appvol:/var/lib/app)
expect_in "$m" '"copy_up":true' "new volume wants copy-up"
"$helper" copy-up appvol "$rootfs" /var/lib/app >/dev/null || bt_fail "copy-up"
# as the files' owner: the runtime's default capabilities do not let root
# read another user's 0640 file
out=$(CTR_UID=1000 run_ctr 'stat -c "%u:%g %a" /var/lib/app/conf.d/app.conf; cat /var/lib/app/conf.d/app.conf; echo changed >/var/lib/app/conf.d/app.conf' "$m") ||
    bt_fail "copy-up container: $out"
expect_eq "$out" "1000:1000 640
listen 80" "copied-up file in the container"
m=$(resolve appvol:/var/lib/app)
expect_in "$m" '"copy_up":false' "copy-up recorded"
"$helper" copy-up appvol "$rootfs" /var/lib/app >/dev/null || bt_fail "second copy-up"
out=$(CTR_UID=1000 run_ctr 'cat /var/lib/app/conf.d/app.conf' "$m")
expect_eq "$out" changed "the volume keeps its own content over the image's"
m=$(resolve bare:/var/lib/app:nocopy)
expect_in "$m" '"copy_up":false' "nocopy"
out=$(run_ctr 'ls -A /var/lib/app | wc -l' "$m")
expect_eq "$out" 0 "nocopy volume is empty"

# ---- anonymous volume kept for a recreated container ----
m=$(resolve /data demo web 1)
a=$(echo "$m" | volume_of)
run_ctr 'echo keep >/data/k' "$m" >/dev/null || bt_fail "anonymous writer"
m2=$(resolve /data demo web 1)
expect_eq "$(run_ctr 'cat /data/k' "$m2")" keep "recreated container keeps its anonymous volume"

# ---- driver options: a tmpfs volume for its users only ----
bt_berth volume create -o type=tmpfs -o device=tmpfs -o o=size=2m ramvol >/dev/null
m=$(resolve ramvol:/data)
"$helper" acquire ramvol c1 demo-ram-1 || bt_fail "acquire ramvol"
out=$(run_ctr 'df -k /data | tail -1; echo in-ram >/data/x' "$m") || bt_fail "ramvol: $out"
expect_in "$out" "2048" "driver-options tmpfs size"
"$helper" release ramvol c1
[ ! -e "$V/ramvol/_data/x" ] || bt_fail "tmpfs content outlived the last user"

"$helper" release-all c1
echo PASS
