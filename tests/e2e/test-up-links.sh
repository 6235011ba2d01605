#!/usr/bin/env bash
# links: SERVICE:ALIAS makes ALIAS a name of SERVICE for the linking
# container, as Compose files written for links expect; down leaves nothing.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  db:
    image: berth-test/busybox:latest
    command: [sh, -c, "mkdir -p /w && echo from-db > /w/index.html; trap 'exit 0' TERM; httpd -f -p 8080 -h /w & wait"]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    links: ["db:database", "db"]
    healthcheck: {disable: true}
YAML
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
# db is created before app: a link orders like depends_on
[ "$(echo "$out" | grep -n 'demo-db-1  Started' | cut -d: -f1)" -lt \
    "$(echo "$out" | grep -n 'demo-app-1  Starting' | cut -d: -f1)" ] || bt_fail "app started before db"
wait_for 50 b exec -T app timeout 3 wget -qO- http://database:8080/ || bt_fail "the alias does not reach db"
expect_eq "$(b exec -T app timeout 3 wget -qO- http://database:8080/)" "from-db" "page through the alias"
expect_eq "$(b exec -T app timeout 3 wget -qO- http://db:8080/)" "from-db" "page through the service name"
db_ip=$(b exec -T db hostname -i | awk '{print $1}')
grep -q "^$db_ip[[:space:]].*database" <<<"$(b exec -T app cat /etc/hosts)" ||
    bt_fail "hosts file: $(b exec -T app cat /etc/hosts)"
b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo PASS
