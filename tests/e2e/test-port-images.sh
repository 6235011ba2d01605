#!/usr/bin/env bash
# berth port SERVICE PRIVATE_PORT (--protocol, --index) prints the address a
# port is published on, and the page answers there; berth images lists the
# images of the project's containers.
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
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["127.0.0.1:18090:8080", "127.0.0.1:18091:9090/udp"]
    stop_grace_period: 1s
  api:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["127.0.0.1::8080"]
    scale: 2
    stop_grace_period: 1s
  quiet:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
YAML
b up -d >/dev/null 2>&1 || bt_fail "up -d"

echo "== port"
expect_eq "$(b port web 8080)" "127.0.0.1:18090" "port web 8080"
expect_eq "$(b port --protocol udp web 9090)" "127.0.0.1:18091" "port --protocol udp"
out=$(b port web 9090 2>&1)
expect_eq "$?" 1 "a tcp port that is published for udp only"
expect_in "$out" "no port 9090/tcp published" "message"
a1=$(b port api 8080) || bt_fail "port api"
a2=$(b port --index 2 api 8080) || bt_fail "port --index 2 api"
[ "$a1" != "$a2" ] || bt_fail "both api containers got $a1"
for a in "$a1" "$a2"; do
    [[ $a =~ ^127\.0\.0\.1:[0-9]+$ ]] || bt_fail "ephemeral port address: $a"
    wait_for 50 timeout 5 wget -qO- "http://$a/" || bt_fail "nothing answers on $a"
done
expect_in "$(timeout 5 wget -qO- "http://$a1/")" "berth" "page through an ephemeral port"
b port quiet 80 >/dev/null 2>&1 && bt_fail "port of a service that publishes nothing"
b port --index 3 api 8080 >/dev/null 2>&1 && bt_fail "port --index 3"
b port web >/dev/null 2>&1
expect_eq "$?" 2 "port without a private port"

echo "== images"
out=$(b images)
echo "$out"
expect_eq "$(echo "$out" | head -1 | tr -s ' ')" "CONTAINER REPOSITORY TAG IMAGE ID SIZE" "images header"
id=$(b image inspect -f '{{.Id}}' berth-test/busybox:latest 2>/dev/null || b image inspect berth-test/busybox:latest | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')
id=${id#sha256:}
for c in demo-api-1 demo-api-2 demo-quiet-1 demo-web-1; do
    echo "$out" | grep -Eq "^$c +berth-test/busybox +latest +${id:0:12} +[0-9.]+[kMG]?B$" || bt_fail "images row of $c"
done
expect_eq "$(b images -q)" "$id" "images -q"
expect_eq "$(b images --format json | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')" 4 "images --format json"
expect_eq "$(b images web | tail -n +2 | wc -l)" 1 "images web"

b down >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo PASS
