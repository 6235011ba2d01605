#!/usr/bin/env bash
# berth logs on a project: services merged in time order behind their
# prefixes, one service, --index, --tail per container, -t, --since/--until,
# stderr kept apart, rotated files, -f that ends when the containers do,
# `-p NAME` without a compose file, and colors.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$BERTH_SOURCE_DIR/tests/fixtures/engine/bundle.sh"
set -u

R=$BERTH_TEST_TMP/rootfs
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$R" || bt_skip "no busybox rootfs"
b() { "$BERTH_BIN" "$@"; }
P=$BERTH_TEST_TMP/demo
mkdir -p "$P"
cat >"$P/compose.yaml" <<'YAML'
services:
  web:
    image: busybox
  db:
    image: busybox
YAML
cd "$P"

# A service container as compose labels it.
svc() { # svc SERVICE NUMBER [container run options...] -- COMMAND...
    local s=$1 n=$2
    shift 2
    b container run -d --name "demo-$s-$n" --rootfs "$R" \
        -l com.docker.compose.project=demo -l com.docker.compose.service="$s" \
        -l com.docker.compose.container-number="$n" -l com.docker.compose.oneoff=False "$@" >/dev/null ||
        bt_fail "could not start demo-$s-$n"
}
wait_exit() {
    local c
    for c in "$@"; do b container wait "$c" >/dev/null || bt_fail "wait $c"; done
}

echo "== two services interleaved: merged in time order with padded prefixes"
# Lines a second apart: db starts a moment after web (more on a busy
# machine), and that delay must not reorder them.
svc web 1 sh -c 'echo w1; sleep 2; echo w3; sleep 0.3; echo w5 >&2'
svc db 1 sh -c 'sleep 1; echo d2; sleep 2; echo d4'
wait_exit demo-web-1 demo-db-1
out=$(b logs --no-color 2>/dev/null)
expect=$(printf 'web-1 | w1\ndb-1  | d2\nweb-1 | w3\ndb-1  | d4')
[ "$out" = "$expect" ] || bt_fail "merged logs: got
$out"
err=$(b logs --no-color 2>&1 >/dev/null)
[ "$err" = "web-1 | w5" ] || bt_fail "stderr line not on stderr: '$err'"

echo "== one service, no prefix, tail per container"
out=$(b logs --no-color web 2>&1)
[ "$out" = "$(printf 'web-1 | w1\nweb-1 | w3\nweb-1 | w5')" ] || bt_fail "logs web: $out"
[ "$(b logs --no-log-prefix db)" = "$(printf 'd2\nd4')" ] || bt_fail "--no-log-prefix"
out=$(b logs --no-color --tail 1 2>&1)
bt_contains "$out" "db-1  | d4"
bt_contains "$out" "web-1 | w5"
[ "$(echo "$out" | wc -l)" = 2 ] || bt_fail "--tail 1 printed: $out"
[ -z "$(b logs --tail 0 2>&1)" ] || bt_fail "--tail 0 printed something"

echo "== timestamps, --since and --until"
b logs --no-color -t db | grep -Eq '^db-1 \| [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]+Z d2$' ||
    bt_fail "-t: $(b logs --no-color -t db)"
[ -z "$(b logs --since 2099-01-01T00:00:00Z 2>&1)" ] || bt_fail "--since in the future printed lines"
[ -z "$(b logs --until 2000-01-01 2>&1)" ] || bt_fail "--until in the past printed lines"
[ "$(b logs --no-log-prefix --since 10m db)" = "$(printf 'd2\nd4')" ] || bt_fail "--since 10m"
t=$(b logs --no-log-prefix -t db | awk '$2 == "d4" { print $1 }')
[ "$(b logs --no-log-prefix --since "$t" db)" = d4 ] || bt_fail "--since an entry's own time"
[ "$(b logs --no-log-prefix --until "$t" db)" = "$(printf 'd2\nd4')" ] || bt_fail "--until"
b logs --since yesterday-ish >/dev/null 2>&1
[ $? = 2 ] || bt_fail "a bad --since is a usage error"

echo "== --index picks one container of a scaled service"
svc web 2 sh -c 'echo second'
wait_exit demo-web-2
[ "$(b logs --no-color --index 2 web)" = "web-2 | second" ] || bt_fail "--index 2: $(b logs --index 2 web)"
b logs --index 7 web >/dev/null 2>&1 && bt_fail "--index of a missing container succeeded"

echo "== unknown service, and -p without a compose file"
out=$(b logs nosuch 2>&1)
[ $? = 1 ] || bt_fail "unknown service: exit code"
bt_contains "$out" "no such service: nosuch"
(cd / && b -p demo logs --no-color db) | grep -qx 'db-1 | d2' || bt_fail "-p demo from another directory"

echo "== colors: --ansi always colors each prefix, NO_COLOR/--no-color do not"
b --ansi always logs web 2>/dev/null | grep -q $'\033\\[36mweb-1 |\033\\[0m w1' || bt_fail "no colored prefix"
b --ansi always logs --no-color web 2>/dev/null | grep -q $'\033' && bt_fail "--no-color printed escapes"

echo "== rotated json-file logs are read oldest first"
svc db 2 --log-opt max-size=1k --log-opt max-file=10 -- sh -c 'for i in $(seq 1 60); do echo "line $i of a rotated log"; done'
wait_exit demo-db-2
id=$(b container inspect -f '{{.Id}}' demo-db-2)
ls "$BERTH_ROOT/containers/$id/" | grep -q 'json.log.1$' || bt_fail "the log did not rotate"
[ "$(b logs --no-log-prefix --index 2 db)" = "$(for i in $(seq 1 60); do echo "line $i of a rotated log"; done)" ] ||
    bt_fail "rotated logs incomplete or out of order"
[ "$(b logs --no-log-prefix --index 2 --tail 2 db)" = "$(printf 'line 59 of a rotated log\nline 60 of a rotated log')" ] ||
    bt_fail "--tail over rotated files"

echo "== -f follows running containers and ends when they stop"
b container rm demo-web-2 demo-db-2 >/dev/null || bt_fail "rm"
svc web 3 sh -c 'for i in 1 2 3 4 5; do echo tick $i; sleep 0.2; done'
start=$SECONDS
out=$(timeout 20 "$BERTH_BIN" logs -f --no-color web 2>&1)
rc=$?
[ $rc = 0 ] || bt_fail "logs -f exited $rc (124: it did not stop with the containers)"
[ $((SECONDS - start)) -lt 10 ] || bt_fail "logs -f took too long to notice the end"
for i in 1 2 3 4 5; do bt_contains "$out" "web-3 | tick $i"; done
bt_contains "$out" "web-1 | w1"

echo "== -f keeps every line when the log rotates under it"
svc db 4 --log-opt max-size=2k --log-opt max-file=20 -- \
    sh -c 'for i in $(seq 1 150); do echo "rotating line $i"; sleep 0.01; done'
out=$(timeout 30 "$BERTH_BIN" logs -f --no-log-prefix --index 4 db 2>&1)
[ "$out" = "$(for i in $(seq 1 150); do echo "rotating line $i"; done)" ] ||
    bt_fail "lines lost or out of order while following a rotating log: $(echo "$out" | head -3) ... ($(echo "$out" | wc -l) lines)"
id=$(b container inspect -f '{{.Id}}' demo-db-4)
ls "$BERTH_ROOT/containers/$id/" | grep -q 'json.log.3$' || bt_fail "the log did not rotate several times"

echo "== -f picks up a container that starts while following"
svc web 4 sh -c 'sleep 1'
( sleep 0.3; svc db 3 sh -c 'echo late arrival; sleep 0.5' ) &
out=$(timeout 20 "$BERTH_BIN" logs -f --no-color 2>&1)
wait
bt_contains "$out" "db-3  | late arrival"

for c in $(b container ls -a -q); do b container rm -f "$c" >/dev/null; done
[ -z "$(ls "$BERTH_ROOT/containers" 2>/dev/null)" ] || bt_fail "containers left behind"
echo "PASS"
