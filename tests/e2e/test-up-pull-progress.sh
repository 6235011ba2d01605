#!/usr/bin/env bash
# Per-layer pull progress in `up` and `pull`, from Debian's docker-registry
# on loopback with a two-layer image: plain lines (one per state change,
# each layer's short digest, "Pull complete") when not on a terminal, the
# redrawn block with progress bars on one; --quiet-pull keeps only the
# image's Pulled line, `pull -q` prints nothing.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
BT_TMP=$BERTH_TEST_TMP
. "$BERTH_SOURCE_DIR/tests/fixtures/image/registry.sh"
command -v docker-registry >/dev/null || bt_skip "needs docker-registry"
command -v curl >/dev/null || bt_skip "needs curl"
ti=$BERTH_TEST_TMP/ti
bash "$BERTH_SOURCE_DIR/tests/fixtures/image/make-test-image.sh" "$ti" berth-test/busybox:latest \
    >/dev/null || bt_skip "cannot build the test image"
b load -q -i "$ti/image.tar" >/dev/null || bt_fail "load the test image"
mapfile -t layers < <(grep '^layer' "$ti/digests" | cut -d' ' -f2 | cut -c8-19)
[ "${#layers[@]}" -ge 2 ] || bt_fail "the test image should have two layers: ${layers[*]}"
img_registry_start main 127.0.0.1:5000
ref=localhost:5000/test/web:1
b tag berth-test/busybox:latest $ref || bt_fail "tag"
b push $ref >/dev/null || bt_fail "push"
b rmi $ref berth-test/busybox:latest >/dev/null || bt_fail "rmi"

up_project demo <<YAML
services:
  web:
    image: $ref
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
YAML
clean() { b down --rmi all >/dev/null 2>&1 || bt_fail "down"; [ -z "$(b image ls -q)" ] || bt_fail "image left"; }

echo "== up -d, not on a terminal: one plain line per layer state"
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
expect_in "$out" " web  Pulling" "pulling"
for l in "${layers[@]}"; do
    expect_in "$out" " $l Waiting" "layer $l waiting"
    expect_in "$out" " $l Downloading" "layer $l downloading"
    expect_in "$out" " $l Download complete" "layer $l downloaded"
    expect_in "$out" " $l Extracting" "layer $l extracting"
    expect_in "$out" " $l Pull complete" "layer $l complete"
    # Downloading once, not a line per byte count
    expect_eq "$(grep -c " $l Downloading" <<<"$out")" 1 "one Downloading line for $l"
done
expect_in "$out" " web  Pulled" "pulled"
case "$out" in *$'\r'* | *$'\033'*) bt_fail "plain output has control characters: $(cat -v <<<"$out")" ;; esac
# the image's Pulled line comes after its layers are complete
last_layer=$(grep -n "Pull complete" <<<"$out" | tail -1 | cut -d: -f1)
pulled=$(grep -n " web  Pulled" <<<"$out" | cut -d: -f1)
[ "$last_layer" -lt "$pulled" ] || bt_fail "Pulled before the layers were complete"
expect_eq "$(b ps -q | wc -l)" 1 "running"
clean

echo "== up -d --quiet-pull: no layer lines, still the image's line"
out=$(b up -d --quiet-pull 2>&1) || bt_fail "up --quiet-pull: $out"
for l in "${layers[@]}"; do expect_not_in "$out" "$l" "--quiet-pull layer $l"; done
expect_in "$out" " web  Pulled" "--quiet-pull pulled"
clean

if command -v script >/dev/null; then
    echo "== up -d on a terminal: the redrawn block with bars"
    script -qec "$BERTH_BIN up -d" /dev/null >"$BERTH_TEST_TMP/tty.out" 2>&1 ||
        bt_fail "up on a terminal: $(cat -v "$BERTH_TEST_TMP/tty.out")"
    tty=$(cat "$BERTH_TEST_TMP/tty.out")
    expect_in "$tty" "[+] Running" "header"
    expect_in "$tty" $'\033[' "cursor movement"
    for l in "${layers[@]}"; do
        grep -aqE "$l Downloading \[[= >]{30}\] [0-9.]+[kM]?B/[0-9.]+[kM]?B" "$BERTH_TEST_TMP/tty.out" ||
            bt_fail "no progress bar for $l: $(cat -v "$BERTH_TEST_TMP/tty.out")"
        expect_in "$tty" "$l Pull complete" "layer $l complete on a terminal"
    done
    expect_in "$tty" " web  Pulled" "pulled on a terminal"
    clean
fi

echo "== pull: layer lines; pull -q: nothing"
out=$(b pull 2>&1) || bt_fail "pull: $out"
for l in "${layers[@]}"; do expect_in "$out" " $l Pull complete" "pull layer $l"; done
expect_in "$out" " web  Pulled" "pull pulled"
b rmi $ref >/dev/null || bt_fail "rmi after pull"
out=$(b pull -q 2>&1) || bt_fail "pull -q: $out"
expect_eq "$out" "" "pull -q prints nothing"
[ -n "$(b image ls -q)" ] || bt_fail "pull -q pulled nothing"
echo "== a failed pull is an error naming the service"
cat >compose.yaml <<'YAML'
services:
  ghost:
    image: localhost:5000/test/ghost:1
YAML
out=$(b pull -q 2>&1) && bt_fail "pull of a missing image succeeded"
expect_in "$out" "localhost:5000/test/ghost:1 (service ghost)" "names the service"
b rmi $ref >/dev/null || bt_fail "rmi"
assert_nothing_left
echo PASS
