#!/usr/bin/env bash
# berth container names: a name is held by one container at a time, also
# when creates race for it; it is free again after rm, after a crash that
# left its record behind, and a store whose name index is missing gets it
# rebuilt from the containers' configs.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u

R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" || bt_skip "no busybox rootfs"
b() { "$BERTH_BIN" "$@"; }
names=$BERTH_ROOT/containers/.names

echo "== a taken name is refused and the refused container leaves nothing"
id=$(b container create --name web --rootfs "$R" true) || bt_fail "create web"
out=$(b container create --name web --rootfs "$R" true 2>&1) && bt_fail "a second 'web' was created"
bt_contains "$out" 'the container name "/web" is already in use by container'
[ "$(b container ls -a -q | wc -l)" = 1 ] || bt_fail "containers: $(b container ls -a)"
[ "$(ls "$BERTH_ROOT/containers" | wc -l)" = 1 ] || bt_fail "dirs: $(ls "$BERTH_ROOT/containers")"
[ "$(b container inspect -f '{{.Id}}' web)" = "$id" ] || bt_fail "web does not resolve to $id"

echo "== after rm the name is free"
b container rm web >/dev/null || bt_fail "rm web"
[ ! -e "$names/web" ] && [ ! -L "$names/web" ] || bt_fail "the name stayed after rm"
b container inspect web >/dev/null 2>&1 && bt_fail "web still resolves"
id2=$(b container create --name web --rootfs "$R" true) || bt_fail "create web again"
[ "$id2" != "$id" ] || bt_fail "the same id twice"

echo "== creates racing for one name: exactly one wins"
pids=()
for i in $(seq 8); do
    b container create --name race --rootfs "$R" true >"$BERTH_TEST_TMP/race.$i" 2>&1 &
    pids+=($!)
done
won=0
for i in $(seq 8); do
    if wait "${pids[$((i - 1))]}"; then
        won=$((won + 1))
    else
        bt_contains "$(cat "$BERTH_TEST_TMP/race.$i")" 'is already in use'
    fi
done
[ "$won" = 1 ] || bt_fail "$won creates got the name 'race'"
[ "$(b container ls -a -q | wc -l)" = 2 ] || bt_fail "containers: $(b container ls -a)"
[ "$(ls "$BERTH_ROOT/containers" | wc -l)" = 2 ] || bt_fail "dirs: $(ls "$BERTH_ROOT/containers")"

echo "== a name left by a container that is gone (a crash) can be taken"
ln -s 0000000000000000000000000000000000000000000000000000000000000000 "$names/ghost"
b container inspect ghost >/dev/null 2>&1 && bt_fail "a stale name resolves"
gid=$(b container create --name ghost --rootfs "$R" true) || bt_fail "create over a stale name"
[ "$(readlink "$names/ghost")" = "$gid" ] || bt_fail "ghost points to $(readlink "$names/ghost")"

echo "== a missing index is rebuilt from the containers"
rm -rf "$names"
out=$(b container create --name web --rootfs "$R" true 2>&1) && bt_fail "'web' taken twice after the rebuild"
bt_contains "$out" "is already in use by container \"$id2\""
[ "$(b container inspect -f '{{.Id}}' race)" = "$(readlink "$names/race")" ] || bt_fail "race"

echo "== nothing left behind"
for c in web race ghost; do b container rm "$c" >/dev/null || bt_fail "rm $c"; done
[ -z "$(b container ls -a -q)" ] || bt_fail "containers left"
[ -z "$(ls -A "$names")" ] || bt_fail "names left: $(ls -A "$names")"
[ -z "$(ls "$BERTH_ROOT/containers")" ] || bt_fail "dirs left: $(ls "$BERTH_ROOT/containers")"
echo ok
