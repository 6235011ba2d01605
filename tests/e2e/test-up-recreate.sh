#!/usr/bin/env bash
# Recreate only on change, with the reason printed; --force-recreate and
# --no-recreate; scale up and down (highest number removed first); orphans
# warned, then removed with --remove-orphans; down with -p alone.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
compose() { # compose GREETING [extra service yaml]
    cat >"$P/compose.yaml" <<YAML
services:
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    environment: {GREETING: "$1"}
    stop_grace_period: 1s
    healthcheck: {disable: true}
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
${2:-}
YAML
}
up_project demo </dev/null
compose hello
b up -d >/dev/null 2>&1 || bt_fail "first up"
web_id=$(b ps -q web)
db_id=$(b ps -q db)

echo "== unchanged: kept"
out=$(b up -d 2>&1) || bt_fail "up: $out"
expect_in "$out" "Container demo-web-1  Running" "kept"
expect_eq "$(b ps -q web)" "$web_id" "same web container"

echo "== changed: recreated with the reason, the other kept"
compose bonjour
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
expect_in "$out" "Container demo-web-1  Recreate (configuration changed)" "reason"
expect_in "$out" "Container demo-web-1  Recreated" "recreated"
[ "$(b ps -q web)" != "$web_id" ] || bt_fail "web was not recreated"
expect_eq "$(b ps -q db)" "$db_id" "db kept"
out=$(b exec -T web sh -c 'echo $GREETING' 2>&1)
expect_eq "$out" "bonjour" "the new environment"

echo "== --no-recreate and --force-recreate"
compose salut
out=$(b up -d --no-recreate 2>&1) || bt_fail "up --no-recreate: $out"
expect_not_in "$out" "Recreate" "--no-recreate"
out=$(b up -d --force-recreate db 2>&1) || bt_fail "up --force-recreate: $out"
expect_in "$out" "Container demo-db-1  Recreate (forced)" "forced"
[ "$(b ps -q db)" != "$db_id" ] || bt_fail "db was not recreated"

echo "== scale up and down"
out=$(b up -d --scale web=3 2>&1) || bt_fail "scale up: $out"
expect_eq "$(b ps --format json | python3 -c '
import json, sys
print(" ".join(sorted(json.loads(l)["Name"] for l in sys.stdin)))')" \
    "demo-db-1 demo-web-1 demo-web-2 demo-web-3" "after scale up"
out=$(b up -d --scale web=1 2>&1) || bt_fail "scale down: $out"
echo "$out"
first=$(echo "$out" | grep -n "demo-web-3  Removed" | cut -d: -f1)
second=$(echo "$out" | grep -n "demo-web-2  Removed" | cut -d: -f1)
[ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ] ||
    bt_fail "scale down did not remove web-3 before web-2"
expect_eq "$(b ps -q | wc -l)" 2 "after scale down"

echo "== orphans"
compose salut "  cache:
    image: berth-test/busybox:latest
    command: [sleep, '300']
    stop_grace_period: 1s"
b up -d >/dev/null 2>&1 || bt_fail "up with cache"
compose salut
out=$(b up -d 2>&1) || bt_fail "up without cache: $out"
expect_in "$out" "Found orphan containers (demo-cache-1)" "orphan warning"
expect_in "$(b ps)" "demo-cache-1" "orphan kept"
out=$(b up -d --remove-orphans 2>&1) || bt_fail "up --remove-orphans: $out"
expect_in "$out" "Container demo-cache-1  Removed" "orphan removed"

echo "== down with -p alone, from another directory"
cd / || bt_fail "cd /"
if command -v script >/dev/null; then
    # on a terminal: Compose's redrawn block with its glyphs
    out=$(script -qec "$BERTH_BIN -p demo down" /dev/null 2>&1) || bt_fail "down -p: $out"
    expect_in "$out" "[+] Running" "header on a terminal"
    expect_in "$out" "✔" "done glyph on a terminal"
    expect_in "$out" "Network demo_default  Removed" "network removed"
else
    out=$(b -p demo down 2>&1) || bt_fail "down -p: $out"
    expect_in "$out" "Network demo_default  Removed" "network removed"
fi
assert_nothing_left
echo PASS
