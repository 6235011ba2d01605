#!/usr/bin/env bash
# berth up on a dual-stack network (enable_ipv6 with an IPv4 and an IPv6
# ipam.config entry): containers get their static ipv6_address, reach each
# other over IPv6 and by name in their hosts files, ports published on
# every address and on [::] answer on the host's IPv6 address and on IPv4,
# ps shows the IPv6 binding, and down leaves no IPv6 address or route.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v wget >/dev/null || bt_skip "needs wget"
[ -e /proc/net/if_inet6 ] || bt_skip "needs IPv6 in the kernel"
up_image
up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [httpd, -f, -p, "8080", -h, /srv/www]
    ports: ["18080:8080", "[::]:18081:8080"]
    networks:
      dual: {ipv6_address: "fd12:3456::10"}
    stop_grace_period: 1s
  client:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    networks:
      dual: {ipv6_address: "fd12:3456::20"}
    stop_grace_period: 1s
networks:
  dual:
    enable_ipv6: true
    ipam:
      config:
        - subnet: 10.125.0.0/24
        - subnet: "fd12:3456::/64"
          gateway: "fd12:3456::1"
YAML
page=$(cat "$BERTH_TEST_TMP/img/rootfs/srv/www/index.html" 2>/dev/null || true)

addr6_before=$(ip -6 -o addr | awk '{print $2, $4}' | sort)
route6_before=$(ip -6 route | sort)

echo "== up -d"
out=$(b up -d 2>&1) || bt_fail "up -d failed: $out"
echo "$out"
expect_in "$out" "Network demo_dual  Created" "network line"
ip -6 -o addr | grep -q 'inet6 fd12:3456::1/64' || bt_fail "IPv6 gateway on the bridge"

echo "== containers over IPv6"
out=$(b exec -T client ip -6 addr show eth0 2>&1) || true
expect_in "$out" "fd12:3456::20/64" "client's static IPv6 address"
out=$(b exec -T client cat /etc/hosts 2>&1)
expect_in "$out" "fd12:3456::10	web demo-web-1" "client's hosts lists web's IPv6 address"
wait_for 50 b exec -T client timeout 3 wget -qO- "http://[fd12:3456::10]:8080/" ||
    bt_fail "client -> web over IPv6"
got=$(b exec -T client timeout 3 wget -qO- "http://[fd12:3456::10]:8080/")
[ -n "$got" ] || bt_fail "empty answer over IPv6"
[ -z "$page" ] || expect_eq "$got" "$page" "page over IPv6"

echo "== published ports"
out=$(b ps)
echo "$out"
expect_in "$out" "[::]:18081->8080/tcp" "ps shows the [::] binding"
expect_in "$out" "[::]:18080->8080/tcp" "18080 is published on [::] too"
expect_in "$out" "0.0.0.0:18080->8080/tcp" "and on 0.0.0.0"
for url in "http://127.0.0.1:18080/" "http://[fd12:3456::1]:18080/" "http://[fd12:3456::1]:18081/"; do
    got=$(timeout 5 wget -qO- "$url") || bt_fail "published port: $url"
    [ -n "$got" ] || bt_fail "empty answer from $url"
done

echo "== down"
out=$(b down 2>&1) || bt_fail "down failed: $out"
assert_nothing_left
[ "$(ip -6 -o addr | awk '{print $2, $4}' | sort)" = "$addr6_before" ] ||
    bt_fail "IPv6 addresses left: $(ip -6 -o addr)"
[ "$(ip -6 route | sort)" = "$route6_before" ] || bt_fail "IPv6 routes left: $(ip -6 route)"
echo ok
