#!/usr/bin/env bash
# A changed top-level network definition makes up recreate the network and
# the containers on it (the reason printed), as Compose does; containers on
# other networks keep their ids; an unchanged network is left alone. A
# changed named volume definition is an error that leaves everything as it
# was.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
compose() { # compose SUBNET [VOLUME_LABEL]
    cat >"$P/compose.yaml" <<YAML
services:
  db:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    networks: [back]
    volumes: [data:/data]
  api:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    depends_on: [db]
    networks: [back, front]
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    networks: [front]
networks:
  front: {}
  back:
    ipam:
      config:
        - subnet: $1
volumes:
  data:
    labels: {tier: "${2:-one}"}
YAML
}
ip_of() { # ip_of CONTAINER NETWORK
    b inspect "$1" | python3 -c '
import json, sys
print(json.load(sys.stdin)[0]["NetworkSettings"]["Networks"][sys.argv[1]]["IPAddress"])' "$2"
}
up_project demo </dev/null
compose 172.28.0.0/24
out=$(b up -d 2>&1) || bt_fail "first up: $out"
db_id=$(b ps -q db)
api_id=$(b ps -q api)
web_id=$(b ps -q web)
case "$(ip_of demo-db-1 demo_back)" in 172.28.0.*) ;; *) bt_fail "db not in 172.28.0.0/24: $(ip_of demo-db-1 demo_back)" ;; esac
b exec -T db sh -c 'echo kept >/data/f' || bt_fail "write to the volume"
labels=$(b network inspect demo_back)
expect_in "$labels" '"com.docker.compose.config-hash": "' "hash label on the network"
expect_in "$labels" '"com.docker.compose.network": "back"' "network label"
expect_in "$labels" '"com.docker.compose.project": "demo"' "project label"

echo "== the subnet changed: network and its containers recreated, the reason printed"
compose 172.29.0.0/24
out=$(b up -d 2>&1) || bt_fail "up after the change: $out"
echo "$out"
expect_in "$out" "Network demo_back  Recreate: configuration changed (ipam.config[0].subnet)" "reason"
expect_in "$out" "Network demo_back  Removed" "old network removed"
expect_in "$out" "Network demo_back  Created" "network made again"
expect_in "$out" "Container demo-db-1  Recreate (network demo_back changed)" "db reason"
expect_in "$out" "Container demo-api-1  Recreate (network demo_back changed)" "api reason"
expect_not_in "$out" "demo_front  Re" "front untouched"
# dependents go first: api (depends on db) is removed before db
first=$(echo "$out" | grep -n "demo-api-1  Removed" | head -1 | cut -d: -f1)
second=$(echo "$out" | grep -n "demo-db-1  Removed" | head -1 | cut -d: -f1)
[ -n "$first" ] && [ -n "$second" ] && [ "$first" -lt "$second" ] ||
    bt_fail "api was not removed before db"
[ "$(b ps -q db)" != "$db_id" ] || bt_fail "db kept its container"
[ "$(b ps -q api)" != "$api_id" ] || bt_fail "api kept its container"
expect_eq "$(b ps -q web)" "$web_id" "web (front only) keeps its container"
case "$(ip_of demo-db-1 demo_back)" in 172.29.0.*) ;; *) bt_fail "db not in the new subnet: $(ip_of demo-db-1 demo_back)" ;; esac
case "$(ip_of demo-api-1 demo_back)" in 172.29.0.*) ;; *) bt_fail "api not in the new subnet" ;; esac
expect_in "$(b network inspect demo_back)" '"Subnet": "172.29.0.0/24"' "new subnet"
expect_eq "$(b exec -T db cat /data/f)" kept "the volume's data stays"
expect_eq "$(b ps -q | wc -l)" 3 "all running"
# the recreated containers reach each other on the new network
b exec -T api ping -c1 -W2 db >/dev/null || bt_fail "api cannot reach db on the new network"

echo "== unchanged: nothing recreated"
db_id=$(b ps -q db)
api_id=$(b ps -q api)
out=$(b up -d 2>&1) || bt_fail "third up: $out"
expect_not_in "$out" "Recreate" "third up"
expect_not_in "$out" "Network demo_back  Removed" "third up network"
expect_eq "$(b ps -q db)" "$db_id" "db kept"
expect_eq "$(b ps -q api)" "$api_id" "api kept"
expect_eq "$(b ps -q web)" "$web_id" "web kept"

echo "== a run container on a changed network: an error before anything is touched"
run_id=$(b run -d db sleep 300 2>/dev/null) || bt_fail "run -d"
compose 172.30.0.0/24
out=$(b up -d 2>&1) && bt_fail "up with a run container on the network succeeded: $out"
expect_in "$out" "network demo_back: configuration changed (ipam.config[0].subnet), but container demo-db-run-" "names the run container"
expect_in "$out" "remove or disconnect it first" "says what to do"
expect_eq "$(b ps -q db)" "$db_id" "db untouched"
expect_in "$(b network inspect demo_back)" '"Subnet": "172.29.0.0/24"' "network untouched"
b container rm -f "$run_id" >/dev/null || bt_fail "remove the run container"

echo "== a changed volume definition is an error, nothing touched"
compose 172.29.0.0/24 two
out=$(b up -d 2>&1) && bt_fail "up with a changed volume succeeded: $out"
expect_in "$out" "volume \"demo_data\" exists but doesn't match configuration in compose file" "volume error"
expect_eq "$(b ps -q db)" "$db_id" "db untouched"
expect_eq "$(b exec -T db cat /data/f)" kept "volume untouched"

out=$(b down -v 2>&1) || bt_fail "down: $out"
assert_nothing_left
echo PASS
