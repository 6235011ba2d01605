#!/usr/bin/env bash
# How `make nmt` gets the nmt stack's images (examples/nmt/images.sh), with
# the image names moved by .env to registries on loopback, so nothing here
# reaches a public registry: images present are used without a pull; missing
# ones are pulled when the registry has them; when the pull fails the
# offline builder makes the ones still missing under the same names, and
# says so; NMT_OFFLINE=1
# builds offline without trying to pull. The offline build works from a
# root filesystem already in its cache (a busybox one here), as a second
# `make nmt` does; the real images take Debian's archive (`make nmt`).
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
BT_TMP=$BERTH_TEST_TMP
fx=$BERTH_SOURCE_DIR/tests/fixtures/image
. "$fx/registry.sh"
command -v docker-registry >/dev/null || bt_skip "needs docker-registry"
command -v curl >/dev/null || bt_skip "needs curl"

bash "$fx/make-test-image.sh" "$BT_TMP/ti" berth-test/busybox:1 >/dev/null || bt_fail "test image"
b load -q -i "$BT_TMP/ti/image.tar" >/dev/null || bt_fail "load"
img_registry_start main 127.0.0.1:5000

# the official names, moved to loopback: 5000 is a registry, 5001 nothing
infra=localhost:5001/nmt/debian:bookworm-slim
mysql=localhost:5000/nmt/mariadb:10.11
tomcat=localhost:5000/nmt/tomcat:10.1
nginx=localhost:5000/nmt/nginx:1.25
cp -r "$BERTH_SOURCE_DIR/examples/nmt" "$BT_TMP/nmt"
P=$BT_TMP/nmt
write_env() {
    printf 'NMT_INFRA_IMAGE=%s\nNMT_MYSQL_IMAGE=%s\nNMT_TOMCAT_IMAGE=%s\nNMT_NGINX_IMAGE=%s\n' \
        "$1" "$mysql" "$tomcat" "$nginx" >"$P/.env"
}
write_env "$infra"
export NMT_PULL_TIMEOUT=30 NMT_CACHE=$BT_TMP/cache TMPDIR=$BT_TMP
unset NMT_OFFLINE
cd "$P" || bt_fail "cd"
expect_eq "$(b config --images | tr "\n" " ")" "$infra $mysql $nginx $tomcat " "names from .env (services in name order)"

# the offline builder's cache: the package stage of each service's root
# filesystem (here busybox's, for infra)
mkdir -p "$NMT_CACHE"
gzip -dc "$BT_TMP/ti/rootfs.tar.gz" >"$NMT_CACHE/infra.tar"

echo "== every image present: used, nothing pulled"
for i in "$infra" "$mysql" "$tomcat" "$nginx"; do
    b tag berth-test/busybox:1 "$i" || bt_fail "tag $i"
done
out=$(bash "$P/images.sh" "$BERTH_BIN" 2>&1) || bt_fail "images.sh: $out"
echo "$out"
expect_in "$out" "using the images present" "present"
expect_not_in "$out" "pulling" "present"

echo "== missing images that the registry has: pulled"
mkdir -p "$BT_TMP/push"
printf 'services:\n  t: {image: %s, build: .}\n  n: {image: %s, build: .}\n' "$tomcat" "$nginx" \
    >"$BT_TMP/push/compose.yaml"
(cd "$BT_TMP/push" && b --ansi never push -q) || bt_fail "push"
b rmi "$tomcat" "$nginx" >/dev/null || bt_fail "rmi"
out=$(bash "$P/images.sh" "$BERTH_BIN" 2>&1) || bt_fail "images.sh: $out"
echo "$out"
expect_in "$out" "$tomcat (tomcat) is not present" "missing tomcat"
expect_in "$out" "pulling nginx tomcat" "pull of the missing ones"
expect_in "$out" "pulled the official images" "pulled"
expect_not_in "$out" "offline" "pulled"
b image inspect "$tomcat" >/dev/null || bt_fail "tomcat not pulled"
b image inspect "$nginx" >/dev/null || bt_fail "nginx not pulled"

echo "== the pull fails for one (nothing on its port): that one built offline, and said so"
b rmi "$infra" "$nginx" >/dev/null || bt_fail "rmi"
out=$(bash "$P/images.sh" "$BERTH_BIN" 2>&1) || bt_fail "images.sh: $out"
echo "$out"
expect_in "$out" "pulling infra nginx" "tried the pull"
expect_in "$out" "the pull failed" "failure said"
expect_in "$out" "building infra offline from Debian's packages" "offline said"
expect_eq "$(b image inspect -f '{{json .Config.Cmd}}' "$nginx")" '["sh"]' "nginx pulled, not built"
expect_in "$out" "made $infra (infra) offline" "made"
expect_eq "$(b image inspect -f '{{json .Config.Cmd}}' "$infra")" '["bash"]' "offline infra's CMD"
[ -z "$(ls "$BT_TMP" | grep berth-nmt-build)" ] || bt_fail "the builder left its work directory"

echo "== NMT_OFFLINE=1: no pull even though the registry has the image"
infra=localhost:5000/nmt/debian:bookworm-slim
write_env "$infra"
b tag berth-test/busybox:1 "$infra" || bt_fail "tag"
printf 'services:\n  i: {image: %s, build: .}\n' "$infra" >"$BT_TMP/push/compose.yaml"
(cd "$BT_TMP/push" && b --ansi never push -q) || bt_fail "push infra"
b rmi "$infra" >/dev/null || bt_fail "rmi"
out=$(NMT_OFFLINE=1 bash "$P/images.sh" "$BERTH_BIN" 2>&1) || bt_fail "images.sh: $out"
echo "$out"
expect_in "$out" "NMT_OFFLINE=1: not pulling; building infra offline" "offline"
expect_not_in "$out" "pulling infra" "offline"
expect_eq "$(b image inspect -f '{{json .Config.Cmd}}' "$infra")" '["bash"]' "offline, not the registry's"

echo "== an unknown service for the builder is an error, and nothing is made"
out=$(bash "$P/make-images.sh" "$BERTH_BIN" redis=localhost:5000/x:1 2>&1) && bt_fail "unknown service accepted"
expect_in "$out" "no service 'redis'" "unknown service"
b image inspect localhost:5000/x:1 >/dev/null 2>&1 && bt_fail "an image was made"
echo PASS
