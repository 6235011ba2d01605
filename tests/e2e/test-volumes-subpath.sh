#!/usr/bin/env bash
# volume.subpath: a service mounts only one directory of a named volume and
# writes land there; a missing subpath, one with '..' and one that is not
# relative fail up naming it, with no container left; a symlink planted in
# the volume, even after up, resolves inside the volume, never to the host.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

b volume create demo_data >/dev/null || bt_fail "volume create"
D=$(b volume inspect -f '{{.Mountpoint}}' demo_data) || bt_fail "volume inspect"
[ -d "$D" ] || bt_fail "mountpoint $D is not a directory"
mkdir -p "$D/sub/dir" "$D/etc"
echo top >"$D/top.txt"
echo inner >"$D/sub/dir/inner.txt"
echo volume-etc >"$D/etc/marker"
ln -s /etc "$D/esc"

compose() {
    up_project demo <<YAML
services:
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    volumes:
      - type: volume
        source: data
        target: /x
        volume:
          subpath: $1
volumes:
  data: {}
YAML
}

echo "== the subpath alone is mounted, and writes land in it"
compose sub/dir
b up -d >/dev/null 2>&1 || bt_fail "up: $(b up -d 2>&1)"
out=$(b exec -T app ls /x) || bt_fail "exec ls"
expect_eq "$out" "inner.txt" "the container sees only the subpath"
expect_eq "$(b exec -T app cat /x/inner.txt)" "inner" "the subpath's file"
b exec -T app sh -c 'echo written >/x/new.txt' || bt_fail "write through the mount"
expect_eq "$(cat "$D/sub/dir/new.txt")" "written" "the write is in the volume's subdirectory"
[ ! -e "$D/new.txt" ] || bt_fail "the write went to the volume's root"

echo "== the subpath swapped for a symlink since up still resolves inside the volume"
mv "$D/sub/dir" "$D/sub/dir.real"
ln -s /etc "$D/sub/dir"
b restart -t 1 app >/dev/null 2>&1 || bt_fail "restart: $(b restart -t 1 app 2>&1)"
expect_eq "$(b exec -T app cat /x/marker)" "volume-etc" "the swapped link resolved inside"
if b exec -T app test -e /x/passwd; then bt_fail "the host's /etc is mounted after the swap"; fi
rm "$D/sub/dir"
mv "$D/sub/dir.real" "$D/sub/dir"

echo "== volumes_from takes the subpath mount as it is"
python3 - compose.yaml <<'PY'
import sys
p = sys.argv[1]
s = open(p).read().replace("volumes:\n  data: {}", "  reader:\n"
    "    image: berth-test/busybox:latest\n    command: [sleep, \"300\"]\n"
    "    stop_grace_period: 1s\n    healthcheck: {disable: true}\n"
    "    volumes_from: [app]\nvolumes:\n  data: {}")
open(p, "w").write(s)
PY
b up -d >/dev/null 2>&1 || bt_fail "up with volumes_from: $(b up -d 2>&1)"
expect_eq "$(b exec -T reader cat /x/inner.txt)" "inner" "the subpath through volumes_from"
reader_id=$(b container inspect -f '{{.Id}}' demo-reader-1) || bt_fail "inspect reader"
grep -q "$reader_id" "$BERTH_ROOT/volumes/demo_data/volume.json" ||
    bt_fail "the volume does not record reader as a user"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after down"
[ -f "$D/sub/dir/new.txt" ] || bt_fail "down removed the volume's content"

echo "== a symlink in the volume resolves inside the volume"
compose esc
b up -d >/dev/null 2>&1 || bt_fail "up with a symlink subpath: $(b up -d 2>&1)"
expect_eq "$(b exec -T app cat /x/marker)" "volume-etc" "the link resolved inside the volume"
if b exec -T app test -e /x/passwd; then bt_fail "the host's /etc is mounted"; fi
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left "after down"

for bad in missing/dir "sub/../.." /sub/dir; do
    echo "== subpath '$bad' is refused"
    compose "$bad"
    if out=$(b up -d 2>&1); then bt_fail "up with subpath '$bad' succeeded: $out"; fi
    echo "$out"
    expect_in "$out" "subpath '$bad'" "names the subpath"
    expect_eq "$(b ps -a -q)" "" "no container after the failed up"
    b down >/dev/null 2>&1 || bt_fail "down after the failed up"
    assert_nothing_left "after the failed up"
done

b volume rm demo_data >/dev/null || bt_fail "volume rm"
exit 0
