#!/usr/bin/env bash
# Mount descriptions resolved against the host, as the engine asks for them
# when it creates a container: bind sources created (short syntax) or
# refused (long syntax without create_host_path), named volumes created on
# first use, anonymous volumes kept for a recreated container, tmpfs.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u

helper=$BERTH_BUILD_DIR/tests/fixtures/volumes/vol-helper
[ -x "$helper" ] || bt_fail "vol-helper is not built"
expect_eq() { [ "$1" = "$2" ] || bt_fail "$3: expected '$2', got '$1'"; }
expect_in() { case "$1" in *"$2"*) ;; *) bt_fail "$3: '$2' not in: $1" ;; esac; }
T=$BERTH_TEST_TMP
field() { python3 -c 'import json,sys; print(json.dumps(eval("json.load(sys.stdin)" + sys.argv[1])))' "$1"; }

# ---- bind: short syntax creates a missing host directory ----
out=$("$helper" resolve "$T/site/html:/usr/share/nginx/html:ro,z") || bt_fail "resolve bind"
[ -d "$T/site/html" ] || bt_fail "short syntax did not create the host directory"
expect_eq "$(stat -c %a "$T/site/html")" 755 "created host directory mode"
expect_eq "$(echo "$out" | field '["mount"]')" \
    "{\"destination\": \"/usr/share/nginx/html\", \"options\": [\"rbind\", \"ro\", \"rprivate\"], \"source\": \"$T/site/html\", \"type\": \"bind\"}" \
    "bind mount object"
expect_eq "$(echo "$out" | field '["volume"]')" null "a bind names no volume"

# long syntax: only with create_host_path
err=$("$helper" resolve --long "$T/missing:/data" 2>&1) && bt_fail "long syntax created a host dir"
expect_in "$err" "bind source path does not exist: $T/missing" "long syntax error"
[ ! -e "$T/missing" ] || bt_fail "a refused bind left a directory"
"$helper" resolve --long --create-host-path "$T/missing:/data:rshared" >/dev/null ||
    bt_fail "create_host_path"
[ -d "$T/missing" ] || bt_fail "create_host_path did not create it"
# an existing file is a fine bind source (a single file mounted)
echo conf >"$T/app.conf"
out=$("$helper" resolve --long "$T/app.conf:/etc/app.conf:ro") || bt_fail "file bind"
expect_eq "$(echo "$out" | field '["mount"]["source"]')" "\"$T/app.conf\"" "file bind source"

# ---- named volumes ----
out=$("$helper" resolve dbdata:/var/lib/mysql) || bt_fail "resolve named"
expect_eq "$(echo "$out" | field '["volume"]')" '"dbdata"' "named volume"
expect_eq "$(echo "$out" | field '["mount"]["source"]')" "\"$BERTH_ROOT/volumes/dbdata/_data\"" "volume source"
expect_eq "$(bt_berth volume ls -q)" dbdata "named volume created on first use"
err=$("$helper" resolve 'bad name:/x' 2>&1) && bt_fail "bad volume name accepted"
expect_in "$err" "invalid characters" "bad volume name"

# ---- anonymous volumes: kept for the same container, separate per replica ----
a1=$("$helper" resolve /data demo web 1 | field '["volume"]')
a1b=$("$helper" resolve /data:ro demo web 1 | field '["volume"]')
a2=$("$helper" resolve /data demo web 2 | field '["volume"]')
expect_eq "$a1b" "$a1" "recreated container finds its anonymous volume"
[ "$a1" != "$a2" ] || bt_fail "two replicas share an anonymous volume"
labels=$(bt_berth volume inspect -f '{{json .Labels}}' "$(echo "$a1" | tr -d '"')")
expect_in "$labels" '"com.docker.volume.anonymous":""' "anonymous label"
expect_in "$labels" '"com.docker.compose.service":"web"' "service label"
expect_in "$labels" '"berth.volume.target":"/data"' "target label"
err=$("$helper" resolve /data 2>&1) && bt_fail "anonymous volume without an owner"
expect_in "$err" "no owning container" "anonymous without owner"

# ---- tmpfs ----
out=$("$helper" resolve --tmpfs /run:size=16m,mode=1770) || bt_fail "resolve tmpfs"
expect_eq "$(echo "$out" | field '["mount"]')" \
    '{"destination": "/run", "options": ["nosuid", "nodev", "noexec", "size=16777216", "mode=1770"], "source": "tmpfs", "type": "tmpfs"}' \
    "tmpfs mount object"
echo PASS
