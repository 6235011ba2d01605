#!/usr/bin/env bash
# Soak: 100 cycles of up -d / down on a small stack with a bridge, a
# published port, a named volume and a bind mount; after each cycle the
# kernel objects berth made are gone (links, netns files, mounts, cgroups,
# nft elements, monitors) and the open files of the processes left in the
# test's pid namespace do not grow.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project soak <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; httpd -f -p 8080 -h /site & wait"]
    ports: ["127.0.0.1:18095:8080"]
    volumes: [./site:/site:ro, data:/data]
    networks: [front]
    healthcheck: {disable: true}
  worker:
    image: berth-test/busybox:latest
    command: [sh, -c, "trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    networks: [front]
    healthcheck: {disable: true}
networks:
  front: {}
volumes:
  data: {}
YAML
mkdir -p site
echo soak >site/index.html
cycles=${BERTH_SOAK_CYCLES:-100}
files_before=
start=$(date +%s)
for i in $(seq 1 "$cycles"); do
    b up -d >/dev/null 2>&1 || bt_fail "cycle $i: up: $(b up -d 2>&1)"
    [ "$(b ps -q | wc -l)" = 2 ] || bt_fail "cycle $i: not 2 containers"
    b down >/dev/null 2>&1 || bt_fail "cycle $i: down: $(b down 2>&1)"
    [ -z "$(ls "$BERTH_RUNROOT/netns" 2>/dev/null)" ] || bt_fail "cycle $i: netns left"
    [ "$(ip -o link show | wc -l)" = 1 ] || bt_fail "cycle $i: links left: $(ip -o link show)"
    [ -z "$(pgrep berth-monitor)" ] || bt_fail "cycle $i: monitors left"
    files=$(find /proc/[0-9]*/fd -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)
    if [ "$i" = 5 ]; then
        files_before=$files
    elif [ -n "$files_before" ] && [ "$files" -gt $((files_before + 20)) ]; then
        bt_fail "cycle $i: open files grew from $files_before to $files"
    fi
    [ $((i % 25)) = 0 ] && assert_nothing_left "after cycle $i"
done
echo "$cycles cycles in $(($(date +%s) - start))s"
b down -v >/dev/null 2>&1 || bt_fail "down -v"
assert_nothing_left
echo PASS
