#!/usr/bin/env bash
# Copy-up: a new, empty volume over a path with content in the image gets
# that content once, with owners, modes, times, xattrs, symlinks, hardlinks
# and device nodes; nothing in the image makes it read outside the image's
# root, and the volume is never reached through a symlink.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

helper=$BERTH_BUILD_DIR/tests/fixtures/volumes/vol-helper
[ -x "$helper" ] || bt_fail "vol-helper is not built"
expect_eq() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }
V=$BERTH_ROOT/volumes
T=$BERTH_TEST_TMP

# ---- an image root with everything copy-up must keep ----
img=$T/img
"$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$img" >/dev/null || bt_fail "rootfs fixture"
d=$img/var/lib/app
mkdir -p "$d/sub/deeper"
echo "config" >"$d/a.txt"
chown 1000:100 "$d/a.txt"
chmod 0640 "$d/a.txt"
touch -h -d "2020-01-02 03:04:05" "$d/a.txt"
echo "deep" >"$d/sub/deeper/b"
chown -R 1000:1000 "$d/sub"
chmod 0700 "$d/sub"
cp "$img/bin/busybox" "$d/suidbin"
chmod 4755 "$d/suidbin"
ln -s a.txt "$d/rel-link"
ln -s /etc/passwd "$d/abs-link"
chown -h 1000:1000 "$d/abs-link"
echo "linked" >"$d/hl1"
ln "$d/hl1" "$d/hl2"
mkfifo "$d/pipe"
mknod "$d/null" c 1 3
chown 999:999 "$d"
chmod 0751 "$d"
python3 - "$d" <<'PY' || bt_fail "set xattrs"
import os, sys
d = sys.argv[1]
os.setxattr(d + "/a.txt", "user.comment", b"hello")
os.setxattr(d + "/a.txt", "trusted.berth", b"root-only")
os.setxattr(d + "/sub", "user.dir", b"yes")
os.setxattr(d, "user.top", b"1")
PY
touch -d "2019-05-06 07:08:09" "$d/sub"

a1=$("$helper" resolve appdata:/var/lib/app) || bt_fail "resolve"
expect_in "$a1" '"copy_up":true' "a new volume asks for copy-up"
expect_in "$a1" '"volume":"appdata"' "resolve names the volume"
expect_eq "$("$helper" copy-up appdata "$img" /var/lib/app)" copied "first copy-up"
D=$V/appdata/_data

expect_eq "$(cat "$D/a.txt")" config "content"
expect_eq "$(stat -c '%u:%g %a %Y' "$D/a.txt")" "1000:100 640 $(stat -c %Y "$d/a.txt")" "file attrs"
expect_eq "$(stat -c '%u:%g %a %Y' "$D/sub")" "1000:1000 700 $(stat -c %Y "$d/sub")" "dir attrs"
expect_eq "$(cat "$D/sub/deeper/b")" deep "nested content"
expect_eq "$(stat -c '%a %u' "$D/suidbin")" "4755 0" "setuid kept"
expect_eq "$(stat -c '%u:%g %a' "$D")" "999:999 751" "volume root takes the directory's owner and mode"
[ -L "$D/rel-link" ] || bt_fail "relative link not copied as a link"
expect_eq "$(readlink "$D/rel-link")" a.txt "relative link"
[ -L "$D/abs-link" ] || bt_fail "absolute link was followed"
expect_eq "$(readlink "$D/abs-link")" /etc/passwd "absolute link target"
expect_eq "$(stat -c '%u' "$D/abs-link")" 1000 "link owner"
expect_eq "$(stat -c %i "$D/hl1")" "$(stat -c %i "$D/hl2")" "hardlinks stay one inode"
[ "$(stat -c %h "$D/hl1")" = 2 ] || bt_fail "hardlink count"
[ -p "$D/pipe" ] || bt_fail "fifo not copied"
[ -c "$D/null" ] || bt_fail "device node not copied"
expect_eq "$(stat -c '%t:%T' "$D/null")" "1:3" "device node"
python3 - "$D" <<'PY' || bt_fail "xattrs not preserved"
import os, sys
d = sys.argv[1]
assert os.getxattr(d + "/a.txt", "user.comment") == b"hello"
assert os.getxattr(d + "/a.txt", "trusted.berth") == b"root-only"
assert os.getxattr(d + "/sub", "user.dir") == b"yes"
assert os.getxattr(d, "user.top") == b"1"
PY

# ---- once ----
rm -rf "${D:?}"/*
expect_eq "$("$helper" copy-up appdata "$img" /var/lib/app)" skipped "second copy-up"
expect_eq "$(ls -A "$D")" "" "nothing copied twice"
expect_in "$("$helper" resolve appdata:/var/lib/app)" '"copy_up":false' "copy-up recorded"

# a volume that already holds data never gets the image's content
bt_berth volume create used >/dev/null
echo mine >"$V/used/_data/mine"
expect_eq "$("$helper" copy-up used "$img" /var/lib/app)" skipped "non-empty volume"
expect_eq "$(ls "$V/used/_data")" mine "non-empty volume untouched"

# nothing at that path in the image: nothing copied, and still new
bt_berth volume create later >/dev/null
expect_eq "$("$helper" copy-up later "$img" /no/such/dir)" skipped "missing path"
expect_eq "$("$helper" copy-up later "$img" /var/lib/app)" copied "copy-up after a miss"

# a driver-options volume receives the content on its mount, so only once mounted
bt_berth volume create -o type=tmpfs -o device=tmpfs tmpcopy >/dev/null
err=$("$helper" copy-up tmpcopy "$img" /var/lib/app 2>&1) && bt_fail "copy-up beneath the mount"
expect_in "$err" "acquire it first" "copy-up before acquire"
"$helper" acquire tmpcopy c1 demo-app-1 || bt_fail "acquire tmpcopy"
expect_eq "$("$helper" copy-up tmpcopy "$img" /var/lib/app)" copied "copy-up onto the tmpfs"
"$helper" release tmpcopy c1 || bt_fail "release tmpcopy"
expect_eq "$(ls -A "$V/tmpcopy/_data")" "" "content was on the tmpfs, not beneath it"

# nocopy
expect_in "$("$helper" resolve fresh:/var/lib/app:nocopy)" '"copy_up":false' "nocopy"

# ---- the image's root is never left ----
mkdir -p "$T/hostsecret"
echo "host only" >"$T/hostsecret/secret"
for link in /etc "../../../../../../../../etc" "$T/hostsecret"; do
    evil=$T/evil
    rm -rf "$evil"
    mkdir -p "$evil/etc" "$evil/var/lib"
    echo "in image" >"$evil/etc/only-in-image"
    ln -s "$link" "$evil/var/lib/app"
    bt_berth volume create escape >/dev/null
    "$helper" copy-up escape "$evil" /var/lib/app >/dev/null 2>&1
    got=$(ls -A "$V/escape/_data")
    case "$link" in
    */hostsecret) [ -z "$got" ] || bt_fail "copy-up followed '$link' out of the image: $got" ;;
    *) expect_eq "$got" only-in-image "symlink '$link' resolved inside the image" ;;
    esac
    bt_berth volume rm escape >/dev/null
done
# '..' in the requested path cannot climb out either
bt_berth volume create dots >/dev/null
"$helper" copy-up dots "$evil" /../../../../etc >/dev/null || bt_fail "copy-up of /../etc"
expect_eq "$(ls -A "$V/dots/_data")" only-in-image "'..' stays inside the image"

# a symlink planted where the volume's _data was is never followed
victim=$T/victim
mkdir -p "$victim"
bt_berth volume create planted >/dev/null
rmdir "$V/planted/_data"
ln -s "$victim" "$V/planted/_data"
err=$("$helper" copy-up planted "$img" /var/lib/app 2>&1) && bt_fail "copy-up through a symlink"
expect_in "$err" "planted/_data" "planted symlink error"
expect_eq "$(ls -A "$victim")" "" "copy-up wrote through a planted symlink"
bt_berth volume rm planted >/dev/null || bt_fail "rm of a volume with a planted _data"
[ -d "$victim" ] || bt_fail "rm followed the planted symlink"
# nor is a driver-options mount made through one
bt_berth volume create -o type=tmpfs -o device=tmpfs planted2 >/dev/null
rmdir "$V/planted2/_data"
ln -s "$victim" "$V/planted2/_data"
err=$("$helper" acquire planted2 c1 x 2>&1) && bt_fail "mounted through a planted symlink"
expect_in "$err" "planted2/_data" "planted symlink error on acquire"
mountpoint -q "$victim" && bt_fail "a tmpfs was mounted on the symlink's target"
bt_berth volume rm planted2 >/dev/null || bt_fail "rm planted2"
[ -d "$victim" ] || bt_fail "rm followed the planted symlink"
# symlinks a container plants inside a volume are never followed by prune or rm
mkdir -p "$T/hostkeep"
head -c 5000 /dev/zero >"$T/hostkeep/big"
a=$("$helper" resolve /data demo web 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["volume"])')
ln -s "$T/hostkeep" "$V/$a/_data/escape"
ln -s "$T/hostkeep/big" "$V/$a/_data/bigfile"
out=$(bt_berth volume prune -f) || bt_fail "prune"
expect_in "$out" "$a" "anonymous volume pruned"
expect_in "$out" "Total reclaimed space: " "prune output"
case "$out" in *"space: 5kB"* | *"space: 5.0"*) bt_fail "prune counted a symlink's target" ;; esac
[ -f "$T/hostkeep/big" ] || bt_fail "prune followed a planted symlink"
echo PASS
