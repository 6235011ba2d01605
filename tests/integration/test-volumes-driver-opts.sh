#!/usr/bin/env bash
# The local driver's options: a tmpfs volume and a bind volume are mounted
# on _data when the first container acquires them and unmounted when the
# last one releases them; size and read-only are honoured; removing a bind
# volume never touches the host directory it showed.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

helper=$BERTH_BUILD_DIR/tests/fixtures/volumes/vol-helper
[ -x "$helper" ] || bt_fail "vol-helper is not built"
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }

V=$BERTH_ROOT/volumes
mounted() { mountpoint -q "$1"; }
fstype() { findmnt -n -o FSTYPE --target "$1"; }

# ---- tmpfs ----
bt_berth volume create --opt type=tmpfs --opt device=tmpfs --opt o=size=1m,mode=0770,uid=1000 \
    scratch >/dev/null || bt_fail "create tmpfs volume"
opts=$(bt_berth volume inspect -f '{{json .Options}}' scratch)
[ "$opts" = '{"device":"tmpfs","o":"size=1m,mode=0770,uid=1000","type":"tmpfs"}' ] ||
    bt_fail "inspect Options: $opts"
mounted "$V/scratch/_data" && bt_fail "mounted before anyone uses it"

"$helper" acquire scratch c1 demo-app-1 || bt_fail "acquire"
mounted "$V/scratch/_data" || bt_fail "tmpfs not mounted on acquire"
[ "$(fstype "$V/scratch/_data")" = tmpfs ] || bt_fail "not a tmpfs"
[ "$(stat -c '%a %u' "$V/scratch/_data")" = "770 1000" ] || bt_fail "tmpfs mode/uid not applied"
# size=1m: writing 2 MiB fails with ENOSPC
if dd if=/dev/zero of="$V/scratch/_data/big" bs=64k count=32 2>/dev/null; then
    bt_fail "tmpfs size limit not honoured"
fi
rm -f "$V/scratch/_data/big"
# a second user does not mount again; the first release keeps it
"$helper" acquire scratch c2 demo-app-2 || bt_fail "acquire 2"
[ "$(findmnt -n --mountpoint "$V/scratch/_data" | wc -l)" = 1 ] || bt_fail "mounted twice"
"$helper" release scratch c1 || bt_fail "release 1"
mounted "$V/scratch/_data" || bt_fail "unmounted while still in use"
err=$(bt_berth volume rm scratch 2>&1) && bt_fail "rm of a volume in use"
expect_in "$err" "in use by container demo-app-2" "tmpfs in use"
"$helper" release scratch c2 || bt_fail "release 2"
mounted "$V/scratch/_data" && bt_fail "still mounted after the last release"
bt_berth volume rm scratch >/dev/null || bt_fail "rm tmpfs volume"

# ---- bind ----
host=$BERTH_TEST_TMP/hostdata
mkdir -p "$host"
echo "from the host" >"$host/hello"
bt_berth volume create --opt type=none --opt o=bind --opt device="$host" hostvol >/dev/null ||
    bt_fail "create bind volume"
"$helper" acquire hostvol c1 demo-web-1 || bt_fail "acquire bind"
[ "$(cat "$V/hostvol/_data/hello")" = "from the host" ] || bt_fail "bind does not show the host dir"
echo "from the volume" >"$V/hostvol/_data/back"
[ -f "$host/back" ] || bt_fail "write through the bind volume did not reach the host"
"$helper" release hostvol c1 || bt_fail "release bind"
mounted "$V/hostvol/_data" && bt_fail "bind still mounted"
bt_berth volume rm hostvol >/dev/null || bt_fail "rm bind volume"
[ -f "$host/hello" ] && [ -f "$host/back" ] || bt_fail "removing a bind volume deleted host files"

# read-only bind
bt_berth volume create -o type=none -o o=bind,ro -o device="$host" rovol >/dev/null ||
    bt_fail "create ro bind volume"
"$helper" acquire rovol c1 demo-web-1 || bt_fail "acquire ro bind"
[ -f "$V/rovol/_data/hello" ] || bt_fail "ro bind does not show the host dir"
if (echo x >"$V/rovol/_data/nope") 2>/dev/null; then bt_fail "ro bind volume is writable"; fi
"$helper" release rovol c1 || bt_fail "release ro"
mounted "$V/rovol/_data" && bt_fail "ro bind still mounted"

# a mount that cannot be made fails the acquire and records no user
bt_berth volume create -o type=none -o o=bind -o device=/nonexistent/dir brokenvol >/dev/null ||
    bt_fail "create broken bind volume"
err=$("$helper" acquire brokenvol c1 demo-web-1 2>&1) && bt_fail "acquire of a broken bind succeeded"
expect_in "$err" "bind '/nonexistent/dir'" "broken bind message"
bt_berth volume rm brokenvol >/dev/null || bt_fail "broken volume kept a user record"

# a mounted volume whose record says nobody uses it (e.g. after a crash) is
# unmounted before removal, never emptied through the mount
bt_berth volume create -o type=none -o o=bind -o device="$host" crashvol >/dev/null
"$helper" acquire crashvol c9 demo-web-9 || bt_fail "acquire crashvol"
python3 - "$V/crashvol/volume.json" <<'PY' || bt_fail "edit record"
import json, sys
p = sys.argv[1]
j = json.load(open(p))
j["Users"] = {}
json.dump(j, open(p, "w"))
PY
bt_berth volume rm crashvol >/dev/null || bt_fail "rm crashvol"
[ -f "$host/hello" ] && [ -f "$host/back" ] || bt_fail "rm deleted host files through a mount"
bt_berth volume rm rovol >/dev/null || bt_fail "rm rovol"
[ -z "$(findmnt -n -l -o TARGET | grep "$V")" ] || bt_fail "mounts left behind"
echo PASS
