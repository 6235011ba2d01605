#!/usr/bin/env bash
# Images without a registry: berth load (OCI layout + docker-save, and the
# classic docker-save format), save, a round trip into an empty store,
# import of a root filesystem, inspect, history, tag, rm and prune, and
# hostile layers that must not write outside the store.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -euo pipefail
fx=$BERTH_SOURCE_DIR/tests/fixtures/image
ti=$BT_TMP/ti
bash "$fx/make-test-image.sh" "$ti" berth-test/busybox:1 >/dev/null
read -r _ cfg < <(grep '^config' "$ti/digests")

out=$(bt_berth load -i "$ti/image.tar")
[ "$out" = "Loaded image: berth-test/busybox:1" ] || bt_fail "load said: $out"
bt_berth images | grep -E '^berth-test/busybox +1 +'"${cfg:7:12}"' ' >/dev/null ||
    bt_fail "images does not list the loaded image: $(bt_berth images)"
bt_berth images --format json | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 1, rows
r = rows[0]
assert r["Repository"] == "berth-test/busybox" and r["Tag"] == "1", r
' || bt_fail "images --format json"
[ "$(bt_berth images -q)" = "${cfg:7:12}" ] || bt_fail "images -q"

# What a container will get from the image.
bt_berth image inspect berth-test/busybox:1 >"$BT_TMP/inspect.json"
python3 - "$BT_TMP/inspect.json" "$cfg" <<'PY' || bt_fail "image inspect"
import json, os, sys
[i] = json.load(open(sys.argv[1]))
assert i["Id"] == sys.argv[2], i["Id"]
assert i["RepoTags"] == ["berth-test/busybox:1"], i["RepoTags"]
c = i["Config"]
assert c["Cmd"] == ["sh"] and c["WorkingDir"] == "/srv/www", c
assert "8080/tcp" in c["ExposedPorts"] and "/data" in c["Volumes"], c
assert c["Healthcheck"]["Test"][0] == "CMD-SHELL", c
lowers = i["GraphDriver"]["Data"]["LowerDir"].split(":")
assert len(lowers) == 2, lowers
assert open(os.path.join(lowers[0], "srv/www/index.html")).read().startswith("hello")
assert os.path.islink(os.path.join(lowers[1], "bin/sh"))
st = os.stat(os.path.join(lowers[1], "home/app"))
assert st.st_uid == 1000, st
assert oct(os.stat(os.path.join(lowers[1], "tmp")).st_mode & 0o7777) == "0o1777"
PY
grep -q 'COPY index.html' <<<"$(bt_berth image history berth-test/busybox:1)" || bt_fail "history"
[ "$(bt_berth image history -q berth-test/busybox:1 | wc -l)" = 2 ] || bt_fail "history lines"

# The classic docker-save format gives the same image (same config id).
out=$(bt_berth load -i "$ti/docker-old.tar")
[ "$out" = "Loaded image: berth-test/busybox:1" ] || bt_fail "old load said: $out"
[ "$(bt_berth images -q | wc -l)" = 1 ] || bt_fail "old format made a second image"

# tag, save, and load into an empty store: same id, same names.
bt_berth tag berth-test/busybox:1 localhost:5000/team/bb:2
bt_berth save -o "$BT_TMP/saved.tar" berth-test/busybox:1 localhost:5000/team/bb:2
tar -tf "$BT_TMP/saved.tar" >"$BT_TMP/saved.list"
for f in manifest.json index.json oci-layout; do
    grep -qx "$f" "$BT_TMP/saved.list" || bt_fail "save: no $f"
done
old_root=$BERTH_ROOT
export BERTH_ROOT=$BT_TMP/root2
mkdir -p "$BERTH_ROOT"
bt_berth load -i "$BT_TMP/saved.tar" | sort >"$BT_TMP/loaded"
printf 'Loaded image: berth-test/busybox:1\nLoaded image: localhost:5000/team/bb:2\n' |
    diff - "$BT_TMP/loaded" || bt_fail "round trip names"
[ "$(bt_berth images -q --no-trunc)" = "$cfg" ] || bt_fail "round trip id"
# a gzip-compressed archive on stdin loads too
bt_berth rmi -f "${cfg:7:12}" >/dev/null
gzip -c "$BT_TMP/saved.tar" | bt_berth load -q
[ "$(bt_berth images -q --no-trunc)" = "$cfg" ] || bt_fail "load from stdin"
export BERTH_ROOT=$old_root

# import a root filesystem
id=$(bt_berth import "$ti/rootfs.tar.gz" imported:latest)
[ "$(bt_berth images -q imported)" = "${id:7:12}" ] || bt_fail "import"
grep -q '"Architecture"' <<<"$(bt_berth image inspect imported)" || bt_fail "import inspect"

# rm: one name untags, the last one deletes; only unused layers go
grep -qx 'Untagged: localhost:5000/team/bb:2' <<<"$(bt_berth rmi localhost:5000/team/bb:2)" ||
    bt_fail "rmi untag"
# the imported root fs is the test image's base layer: unpacked once, shared
nlayers=$(ls "$BERTH_ROOT/image/layers" | wc -l)
[ "$nlayers" = 2 ] || bt_fail "expected 2 shared layers, have $nlayers"
grep -q "^Deleted: $id" <<<"$(bt_berth image rm imported)" || bt_fail "rm imported"
[ "$(ls "$BERTH_ROOT/image/layers" | wc -l)" = 2 ] || bt_fail "rm removed a shared layer"
lower=$(bt_berth image inspect berth-test/busybox:1 | python3 -c \
    'import json,sys; print(json.load(sys.stdin)[0]["GraphDriver"]["Data"]["LowerDir"].split(":")[1])')
[ -x "$lower/bin/busybox" ] || bt_fail "the shared base layer lost its files"
bt_berth image rm nothere:1 2>"$BT_TMP/err" && bt_fail "rm of a missing image succeeded"
grep -q 'No such image: nothere:1' "$BT_TMP/err" || bt_fail "rm message: $(cat "$BT_TMP/err")"
grep -q "deleted: $cfg" <<<"$(bt_berth image prune -a -f)" || bt_fail "prune -a"
[ -z "$(ls "$BERTH_ROOT/image/layers")" ] || bt_fail "prune left layers"
[ -z "$(ls "$BERTH_ROOT/image/blobs/sha256")" ] || bt_fail "prune left blobs"

# Concurrent use: loads of the same image side by side, and a removal
# racing them, leave one consistent image (flock on the store).
pids=()
for i in 1 2 3; do
    bt_berth load -q -i "$ti/image.tar" & pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || bt_fail "a concurrent load failed"; done
[ "$(bt_berth images -q)" = "${cfg:7:12}" ] || bt_fail "concurrent loads: $(bt_berth images)"
bt_berth load -q -i "$ti/docker-old.tar" & p1=$!
bt_berth image prune -a -f >/dev/null & p2=$!
wait $p1 || bt_fail "load racing a prune failed"
wait $p2 || bt_fail "prune racing a load failed"
if [ -n "$(bt_berth images -q)" ]; then
    # the load won: its image is whole
    lower=$(bt_berth image inspect berth-test/busybox:1 | python3 -c \
        'import json,sys; print(json.load(sys.stdin)[0]["GraphDriver"]["Data"]["LowerDir"].split(":")[1])')
    [ -x "$lower/bin/busybox" ] || bt_fail "an image lost its layers in the race"
fi
bt_berth image prune -a -f >/dev/null
# a crashed writer's temporary files are swept by the next removal
mkdir -p "$BERTH_ROOT/image/tmp/layer-crashed/diff"
echo partial >"$BERTH_ROOT/image/tmp/blob-crashed"
bt_berth image prune -f >/dev/null
[ -z "$(ls "$BERTH_ROOT/image/tmp")" ] || bt_fail "prune left a crashed writer's files"

# Bad input: a clear error and nothing stored.
echo "not a tarball" >"$BT_TMP/junk"
bt_berth load -i "$BT_TMP/junk" 2>"$BT_TMP/err" && bt_fail "junk loaded"
grep -q 'berth: load:' "$BT_TMP/err" || bt_fail "junk message: $(cat "$BT_TMP/err")"
bt_berth import "$BT_TMP/junk" x:1 2>/dev/null && bt_fail "junk imported"
bt_berth import "$ti/rootfs.tar.gz" 'Bad:Name' 2>"$BT_TMP/err" && bt_fail "bad name accepted"
grep -q 'must be lowercase' "$BT_TMP/err" || bt_fail "bad name message: $(cat "$BT_TMP/err")"

# Hostile layers: refused or confined, never writing to the victim.
victim=$BT_TMP/victim
mkdir -p "$victim"
echo keep >"$victim/keep"
bash "$fx/make-hostile-layers.sh" "$BT_TMP/hostile" "$victim"
while read -r trick what; do
    if bt_berth import "$BT_TMP/hostile/$trick.tar" "hostile/$trick:1" >/dev/null 2>"$BT_TMP/err"; then
        [ "$what" = confine ] || bt_fail "$trick: accepted"
    else
        [ "$what" = refuse ] || bt_fail "$trick: refused: $(cat "$BT_TMP/err")"
    fi
    [ "$(ls -A "$victim")" = keep ] || bt_fail "$trick: wrote into the victim dir: $(ls -A "$victim")"
    [ "$(cat "$victim/keep")" = keep ] || bt_fail "$trick: changed the victim file"
    [ "$(stat -c %h "$victim/keep")" = 1 ] || bt_fail "$trick: hard-linked the victim file"
    [ ! -e "$BT_TMP/evil" ] && [ ! -e /evil ] || bt_fail "$trick: wrote outside"
done <"$BT_TMP/hostile/expect"
# Refused imports leave nothing: only the confined ones are stored.
bt_berth image prune -a -f >/dev/null
[ -z "$(ls "$BERTH_ROOT/image/layers")" ] && [ -z "$(ls "$BERTH_ROOT/image/blobs/sha256")" ] &&
    [ -z "$(ls "$BERTH_ROOT/image/tmp")" ] || bt_fail "leftovers in the store"
# The sandbox's clean-up runs as an EXIT trap; errexit must not turn its
# best-effort steps into a failure of a test that passed.
set +e
echo PASS
