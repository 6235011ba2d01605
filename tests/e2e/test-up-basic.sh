#!/usr/bin/env bash
# berth up -d on a small project: a web service publishing a port and
# serving a bind-mounted directory, waiting for a healthy backend, on a
# custom bridge with a named volume; ps shows it; the page answers through
# the published port; a second up changes nothing; down removes everything.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /site]
    ports: ["127.0.0.1:18080:8080"]
    volumes: [./site:/site:ro]
    networks: [front]
    stop_grace_period: 1s
    depends_on:
      db: {condition: service_healthy}
  db:
    image: berth-test/busybox:latest
    command: [sh, -c, "echo ready > /data/state; exec sleep 300"]
    volumes: [dbdata:/data]
    networks: [front]
    stop_grace_period: 1s
    healthcheck:
      test: [CMD, test, -f, /data/state]
      interval: 200ms
      retries: 20
networks:
  front: {}
volumes:
  dbdata: {}
YAML
mkdir -p site
echo "hello from berth" >site/index.html

echo "== up -d"
out=$(b up -d 2>&1) || bt_fail "up -d failed: $out"
echo "$out"
expect_in "$out" "Network demo_front  Created" "network line"
expect_in "$out" "Volume demo_dbdata  Created" "volume line"
expect_in "$out" "Container demo-db-1  Started" "db started"
expect_in "$out" "Container demo-web-1  Started" "web started"
expect_in "$out" "Container demo-db-1  Healthy" "db healthy"
# db became healthy before web was created
db_line=$(echo "$out" | grep -n "Container demo-db-1  Started" | cut -d: -f1)
web_line=$(echo "$out" | grep -n "Container demo-web-1  Creating" | cut -d: -f1)
[ "$db_line" -lt "$web_line" ] || bt_fail "web was created before db started"
hs=$(b container inspect demo-db-1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["State"]["Health"]["Status"])')
expect_eq "$hs" healthy "db health when up returned"

echo "== ps"
out=$(b ps)
echo "$out"
expect_in "$out" "NAME" "ps header"
expect_in "$out" "demo-web-1" "ps web"
expect_in "$out" "127.0.0.1:18080->8080/tcp" "ps ports"
expect_in "$out" "(healthy)" "ps health"
echo "$out" | grep demo-web-1 | grep -q "Up " || bt_fail "web not Up: $out"
expect_eq "$(b ps -q | wc -l)" 2 "ps -q"
expect_eq "$(b ps --services | sort | tr '\n' ' ')" "db web " "ps --services"
b ps --format json | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
web = [r for r in rows if r["Service"] == "web"][0]
assert web["State"] == "running", web
assert web["Publishers"][0]["PublishedPort"] == 18080, web
' || bt_fail "ps --format json"
out=$(b ls)
expect_in "$out" "demo" "ls"
expect_in "$out" "running(2)" "ls status"

echo "== the page through the published port"
wait_for 50 timeout 5 wget -qO- http://127.0.0.1:18080/ || bt_fail "no answer on 18080"
expect_eq "$(timeout 5 wget -qO- http://127.0.0.1:18080/)" "hello from berth" "page"

echo "== a second up changes nothing"
out=$(b up -d 2>&1) || bt_fail "second up failed: $out"
expect_in "$out" "Container demo-web-1  Running" "kept"
expect_not_in "$out" "Recreate" "second up"

echo "== down"
out=$(b down 2>&1) || bt_fail "down failed: $out"
echo "$out"
expect_in "$out" "Container demo-web-1  Removed" "web removed"
expect_in "$out" "Network demo_front  Removed" "network removed"
[ -z "$(b ps -a -q)" ] || bt_fail "containers after down"
assert_nothing_left
[ -d "$BERTH_ROOT/volumes/demo_dbdata" ] || bt_fail "down without -v removed the named volume"
out=$(b down -v 2>&1) || bt_fail "down -v: $out"
[ ! -d "$BERTH_ROOT/volumes/demo_dbdata" ] || bt_fail "down -v kept the named volume"
echo PASS
