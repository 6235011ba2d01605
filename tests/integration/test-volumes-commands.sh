#!/usr/bin/env bash
# berth volume ls|create|inspect|rm|prune as a user types them: output
# shapes, filters, errors, in-use refusal, prune and external volumes.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

helper=$BERTH_BUILD_DIR/tests/fixtures/volumes/vol-helper
[ -x "$helper" ] || bt_fail "vol-helper is not built"

expect_eq() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }

# ---- create, ls, inspect ----
out=$(bt_berth volume create dbdata) || bt_fail "create dbdata"
expect_eq "$out" dbdata "create prints the name"
bt_berth volume create --label env=prod --label tier=db web_static >/dev/null || bt_fail "create with labels"
# creating an existing volume again is fine and keeps it
expect_eq "$(bt_berth volume create dbdata)" dbdata "create twice"
anon=$(bt_berth volume create) || bt_fail "create without a name"
[ "${#anon}" = 64 ] || bt_fail "generated name '$anon' is not 64 hex digits"

[ -d "$BERTH_ROOT/volumes/dbdata/_data" ] || bt_fail "no _data directory"
expect_eq "$(stat -c %a "$BERTH_ROOT/volumes/dbdata/_data")" 755 "_data mode"

table=$(bt_berth volume ls) || bt_fail "ls"
expect_eq "$(echo "$table" | head -1)" "DRIVER    VOLUME NAME" "ls header"
expect_in "$table" "local     dbdata" "ls row"
expect_eq "$(echo "$table" | wc -l)" 4 "ls rows"
expect_eq "$(bt_berth volume ls -q | tr '\n' ' ')" \
    "$(printf '%s\n' "$anon" dbdata web_static | LC_ALL=C sort | tr '\n' ' ')" "ls -q, sorted by name"
expect_eq "$(bt_berth volume ls -q --filter label=env=prod)" web_static "label filter"
expect_eq "$(bt_berth volume ls -q -f label=tier -f name=web)" web_static "label+name filter"
expect_eq "$(bt_berth volume ls -q -f label=env=dev)" "" "non-matching label filter"

expect_eq "$(bt_berth volume ls --format '{{.Name}}\t{{.Labels}}' -f label=env)" \
    "$(printf 'web_static\tenv=prod,tier=db')" "ls with a template"
json=$(bt_berth volume ls --format json -f name=web_static)
python3 - "$json" "$BERTH_ROOT" <<'PY' || bt_fail "ls --format json"
import json, sys
o = json.loads(sys.argv[1])
assert o["Name"] == "web_static" and o["Driver"] == "local" and o["Scope"] == "local", o
assert o["Labels"] == "env=prod,tier=db", o
assert o["Mountpoint"] == sys.argv[2] + "/volumes/web_static/_data", o
PY

insp=$(bt_berth volume inspect web_static dbdata) || bt_fail "inspect"
python3 - "$insp" "$BERTH_ROOT" <<'PY' || bt_fail "inspect output"
import json, sys
a = json.loads(sys.argv[1])
assert [v["Name"] for v in a] == ["web_static", "dbdata"], a
assert a[0]["Labels"] == {"env": "prod", "tier": "db"}, a
assert a[1]["Labels"] is None and a[1]["Options"] is None, a
assert set(a[0]) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}, a
assert a[0]["CreatedAt"].endswith("Z"), a
PY
expect_in "$(bt_berth volume inspect -f '{{json .}}' dbdata)" '"Name":"dbdata"' "inspect -f json ."
err=$(bt_berth volume inspect -f '{{.Name.Sub}}' dbdata 2>&1) && bt_fail "nested template accepted"
expect_in "$err" "are supported" "unsupported template"
expect_eq "$(bt_berth volume inspect -f '{{.Mountpoint}}' dbdata)" \
    "$BERTH_ROOT/volumes/dbdata/_data" "inspect -f"

# ---- bad input ----
err=$(bt_berth volume inspect nosuch 2>&1) && bt_fail "inspect of a missing volume succeeded"
expect_in "$err" "no such volume: nosuch" "inspect missing"
err=$(bt_berth volume create 'bad/name' 2>&1) && bt_fail "bad name accepted"
expect_in "$err" "invalid characters" "bad name"
err=$(bt_berth volume create -d nfs remote 2>&1) && bt_fail "unknown driver accepted"
expect_in "$err" "not supported" "unknown driver"
err=$(bt_berth volume create -o type=tmpfs tv 2>&1) && bt_fail "incomplete opts accepted"
expect_in "$err" "missing required option 'device'" "incomplete opts"
bt_berth volume ls -f colour=red >/dev/null 2>&1
expect_eq "$?" 2 "unknown filter is a usage error"
[ ! -e "$BERTH_ROOT/volumes/remote" ] && [ ! -e "$BERTH_ROOT/volumes/tv" ] ||
    bt_fail "a refused create left a directory"

# ---- in use ----
echo precious >"$BERTH_ROOT/volumes/dbdata/_data/file"
"$helper" acquire dbdata 4f1c2a9e8b7d6c5f4e3d2c1b0a99887766554433 demo-db-1 || bt_fail "acquire"
err=$(bt_berth volume rm dbdata 2>&1) && bt_fail "rm of a volume in use succeeded"
expect_in "$err" "volume is in use by container demo-db-1 (4f1c2a9e8b7d)" "in-use message"
[ -f "$BERTH_ROOT/volumes/dbdata/_data/file" ] || bt_fail "in-use volume lost its data"
expect_eq "$(bt_berth volume ls -q -f dangling=false)" dbdata "dangling=false"
bt_berth volume prune -a -f --filter name=dbdata >/dev/null || bt_fail "prune"
[ -f "$BERTH_ROOT/volumes/dbdata/_data/file" ] || bt_fail "prune removed a volume in use"
"$helper" release dbdata 4f1c2a9e8b7d6c5f4e3d2c1b0a99887766554433 || bt_fail "release"

# ---- rm ----
expect_eq "$(bt_berth volume rm dbdata)" dbdata "rm prints the name"
[ ! -e "$BERTH_ROOT/volumes/dbdata" ] || bt_fail "rm left the directory"
err=$(bt_berth volume rm dbdata 2>&1) && bt_fail "rm of a missing volume succeeded"
expect_in "$err" "no such volume: dbdata" "rm missing"
bt_berth volume rm -f dbdata >/dev/null || bt_fail "rm -f of a missing volume failed"

# ---- prune ----
bt_berth volume create keep1 >/dev/null
bt_berth volume create ext1 >/dev/null
"$helper" external ext1 demo || bt_fail "external lookup"
err=$("$helper" external nosuch demo 2>&1) && bt_fail "missing external volume accepted"
expect_in "$err" "external volume 'nosuch' not found" "external missing"
a1=$("$helper" resolve /data demo web 1 | python3 -c 'import json,sys; print(json.load(sys.stdin)["volume"])')
[ "${#a1}" = 64 ] || bt_fail "anonymous volume name '$a1'"
head -c 3000 /dev/zero >"$BERTH_ROOT/volumes/$a1/_data/blob"

# answering no keeps everything
echo n | bt_berth volume prune >/dev/null
bt_berth volume inspect "$a1" >/dev/null 2>&1 || bt_fail "prune without confirmation removed"
out=$(echo y | bt_berth volume prune) || bt_fail "prune"
expect_in "$out" "Deleted Volumes:
$a1" "prune output"
expect_in "$out" "Total reclaimed space: 3kB" "reclaimed"
bt_berth volume inspect keep1 >/dev/null 2>&1 || bt_fail "prune removed a named volume"

out=$(bt_berth volume prune -a -f --filter label=env=prod) || bt_fail "prune --filter"
expect_in "$out" "web_static" "prune with a label filter"
out=$(bt_berth volume prune --all --force) || bt_fail "prune -a"
expect_in "$out" "keep1" "prune -a removes named"
expect_in "$out" "$anon" "prune -a removes the unnamed"
bt_berth volume inspect ext1 >/dev/null 2>&1 || bt_fail "prune removed an external volume"
expect_eq "$(bt_berth volume prune -a -f)" "Total reclaimed space: 0B" "nothing to prune"
# the user may still remove it by name
expect_eq "$(bt_berth volume rm ext1)" ext1 "rm of an external volume by name"
expect_eq "$(bt_berth volume ls -q)" "" "all gone"
expect_eq "$(ls -A "$BERTH_ROOT/volumes")" ".lock" "no leftovers in the store"
echo PASS
