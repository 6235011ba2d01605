#!/usr/bin/env bash
# berth stats: the docker table and its units, CPU % of a busy and an idle
# container, the memory limit, PIDS, NET I/O growing with traffic, JSON
# lines with Docker's keys, templates, streaming ended by Ctrl-C with 0.
# berth scale: up to 3 replicas and down to 1, the highest numbers removed.
# berth attach: a service's output as it comes; Ctrl-C with --sig-proxy=false
# leaves the container running, the default forwards the signal; input to a
# stdin_open service, whose stdin stays open between attachments; with a
# terminal, ctrl-p ctrl-q detaches.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
command -v python3 >/dev/null || bt_skip "no python3"
up_image
up_project demo <<'YAML'
x-base: &base
  image: berth-test/busybox:latest
  stop_grace_period: 1s
  healthcheck: {disable: true}
services:
  busy:
    <<: *base
    command: [sh, -c, "while :; do :; done"]
  idle:
    <<: *base
    command: [sh, -c, "sleep 1000 & sleep 1001 & sleep 1002 & wait"]
    mem_limit: 64m
  srv:
    <<: *base
    command: [sh, -c, "dd if=/dev/zero of=/srv/www/big bs=1024 count=400 2>/dev/null; exec httpd -f -p 8080 -h /srv/www"]
  client:
    <<: *base
    command: [sleep, "1000"]
  web:
    <<: *base
    command: [sleep, "1000"]
  ticker:
    <<: *base
    command: [sh, -c, 'trap "echo got-INT" INT; i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.2; done']
  term:
    <<: *base
    tty: true
    stdin_open: true
    command: [sh, -c, "while :; do echo tock; sleep 0.2; done"]
  shell:
    <<: *base
    tty: true
    stdin_open: true
    command: [sh]
  reader:
    <<: *base
    stdin_open: true
    command: [sh, -c, 'while read l; do echo "got $$l"; done; echo stdin-closed; exec sleep 1000']
YAML
b up -d >/dev/null 2>&1 || bt_fail "up"

# FIELD of SERVICE's row in JSON lines on stdin
field() { python3 -c '
import json, sys
for line in sys.stdin:
    r = json.loads(line)
    if r["Name"] == sys.argv[1]:
        print(r[sys.argv[2]])' "$@"; }
# "1.5kB / 648B" -> the first size in bytes
bytes_of() { python3 -c '
import re, sys
m = re.match(r"([0-9.]+)([kMGT]?B)", sys.argv[1])
print(int(float(m.group(1)) * {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12}[m.group(2)]))' "$1"; }

echo "== the table: header and a row per running container"
out=$(b stats --no-stream) || bt_fail "stats --no-stream: $out"
echo "$out"
echo "$out" | head -1 | grep -Eq '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$' ||
    bt_fail "header"
expect_eq "$(echo "$out" | tail -n +2 | wc -l)" 9 "one row per container"
id=$(b ps -q idle)
row='^[0-9a-f]{12} +demo-idle-1 +[0-9]+\.[0-9]{2}% +[0-9.]+(B|KiB|MiB) / 64MiB +[0-9]+\.[0-9]{2}% +[0-9.]+k?B / [0-9.]+k?B +[0-9.]+[kMG]?B / [0-9.]+[kMG]?B +4$'
echo "$out" | grep -E "^${id:0:12} " | grep -Eq "$row" || bt_fail "idle row: limit 64MiB, 4 processes"

echo "== CPU %: a busy loop and a sleeper"
json=$(b stats --no-stream --format json) || bt_fail "stats json"
busy=$(echo "$json" | field demo-busy-1 CPUPerc)
idle=$(echo "$json" | field demo-idle-1 CPUPerc)
echo "busy $busy idle $idle"
python3 -c "import sys; sys.exit(0 if float('${busy%\%}') > 20 else 1)" || bt_fail "busy CPU $busy"
python3 -c "import sys; sys.exit(0 if float('${idle%\%}') < 5 else 1)" || bt_fail "idle CPU $idle"

echo "== JSON lines with Docker's keys"
echo "$json" | python3 -c '
import json, sys
want = {"BlockIO", "CPUPerc", "Container", "ID", "MemPerc", "MemUsage", "Name", "NetIO", "PIDs"}
n = 0
for line in sys.stdin:
    r = json.loads(line)
    assert set(r) == want, sorted(r)
    assert len(r["ID"]) == 12 and r["Container"].startswith(r["ID"]), r
    n += 1
assert n == 9, n' || bt_fail "json lines"
full=$(b stats --no-stream --no-trunc --format '{{.ID}}' idle) || bt_fail "no-trunc"
expect_eq "$full" "$id" "--no-trunc shows the full id"

echo "== templates"
out=$(b stats --no-stream --format '{{.Name}}: {{.PIDs}} {{.MemUsage}}' idle) || bt_fail "template"
expect_in "$out" "demo-idle-1: 4 " "template row"
expect_in "$out" "/ 64MiB" "template mem"
out=$(b stats --no-stream --format 'table {{.Name}}\t{{.PIDs}}' idle) || bt_fail "table template"
expect_eq "$(echo "$out" | head -1)" "NAME          PIDS" "table template header"
expect_eq "$(echo "$out" | tail -1)" "demo-idle-1   4" "table template row"
b stats --no-stream --format '{{.Nope}}' >/dev/null 2>&1
expect_eq $? 2 "unknown field is a usage error"
b stats --no-stream nosuch >/dev/null 2>&1
expect_eq $? 1 "unknown service"

echo "== NET I/O grows with traffic"
before=$(b stats --no-stream --format json client | field demo-client-1 NetIO)
b exec client sh -c 'timeout 10 wget -q -O /dev/null http://srv:8080/big' || bt_fail "wget from srv"
after=$(b stats --no-stream --format json client | field demo-client-1 NetIO)
echo "client NET I/O $before -> $after"
[ $(($(bytes_of "$after") - $(bytes_of "$before"))) -ge 300000 ] || bt_fail "NET I/O rx did not grow: $before -> $after"
srv=$(b stats --no-stream --format '{{.NetIO}}' srv)
[ "$(bytes_of "${srv#* / }")" -ge 300000 ] || bt_fail "server's tx: $srv"

echo "== PIDS counts the processes started"
b exec -d idle sh -c 'sleep 1003 & sleep 1004 & wait' >/dev/null 2>&1 || bt_fail "exec -d"
sleep 0.5
pids=$(b stats --no-stream --format "{{.PIDs}}" idle)
b top idle
[ "$pids" -ge 7 ] || bt_fail "PIDS after starting 3 more: $pids"

echo "== streaming: a table a second, Ctrl-C ends it with 0"
"$BERTH_BIN" stats web >"$BERTH_TEST_TMP/stream" 2>&1 &
spid=$!
wait_for 50 sh -c "[ \$(grep -c '^CONTAINER ID' $BERTH_TEST_TMP/stream) -ge 2 ]" || bt_fail "no second table"
kill -INT $spid
wait_for 30 sh -c "! kill -0 $spid" || { kill -KILL $spid; bt_fail "stats went on after Ctrl-C"; }
wait $spid
expect_eq $? 0 "stats after Ctrl-C"
expect_eq "$(grep -c demo-web-1 "$BERTH_TEST_TMP/stream")" "$(grep -c '^CONTAINER ID' "$BERTH_TEST_TMP/stream")" \
    "a row per table"

if command -v script >/dev/null; then
    # on a terminal each table is drawn over the last one
    out=$(script -qfec "timeout -s INT 2.5 $BERTH_BIN stats web" /dev/null 2>&1)
    [ "$(printf '%s' "$out" | grep -c $'\e\[H\e\[2J')" -ge 1 ] || bt_fail "no screen clearing on a terminal"
    expect_in "$out" demo-web-1 "terminal table"
    out=$(script -qfec "$BERTH_BIN stats --no-stream web" /dev/null 2>&1)
    expect_not_in "$out" $'\e[2J' "--no-stream clears nothing"
fi

echo "== attach: output from now on; Ctrl-C with --sig-proxy=false leaves it running"
running() { [ -n "$(b ps -q --status running "$1")" ]; }
# waits (bounded) until process $1 is gone, then gives its exit code
ended() {
    wait_for 50 sh -c "! kill -0 $1" || { kill -KILL "$1"; bt_fail "attach went on: $2"; }
    wait "$1"
}
"$BERTH_BIN" attach --sig-proxy=false ticker >"$BERTH_TEST_TMP/att1" 2>&1 &
apid=$!
wait_for 50 grep -q tick "$BERTH_TEST_TMP/att1" || bt_fail "no output attached"
first=$(head -1 "$BERTH_TEST_TMP/att1")
[ "${first#tick }" -gt 1 ] 2>/dev/null || bt_fail "attach replayed the past: $first"
kill -INT $apid
ended $apid "after Ctrl-C"
expect_eq $? 130 "attach --sig-proxy=false after Ctrl-C"
running ticker || bt_fail "Ctrl-C stopped the container"
expect_not_in "$(cat "$BERTH_TEST_TMP/att1")" got-INT "no signal proxied"

echo "== attach: signals go to the container by default; it ends when the container stops"
"$BERTH_BIN" attach ticker >"$BERTH_TEST_TMP/att2" 2>&1 &
apid=$!
wait_for 50 grep -q tick "$BERTH_TEST_TMP/att2" || bt_fail "no output attached"
kill -INT $apid
wait_for 50 grep -q got-INT "$BERTH_TEST_TMP/att2" || bt_fail "SIGINT not forwarded"
kill -0 $apid 2>/dev/null || bt_fail "attach ended on a forwarded signal"
running ticker || bt_fail "the container stopped on SIGINT it traps"
b stop -t 1 ticker >/dev/null 2>&1 || bt_fail "stop ticker"
ended $apid "after its container stopped"
code=$?
expect_eq "$code" "$(b container inspect -f '{{.State.ExitCode}}' demo-ticker-1)" "attach exit code"

echo "== attach to a tty: ctrl-p ctrl-q detaches, the container runs on"
if command -v script >/dev/null; then
    out=$( (sleep 1.5; printf '\020\021'; sleep 1) |
        timeout 20 script -qfec "$BERTH_BIN attach term" /dev/null 2>&1)
    expect_eq $? 0 "detached with ctrl-p ctrl-q"
    expect_in "$out" tock "tty output"
    running term || bt_fail "detaching stopped the container"
    # input reaches the shell, a ctrl-p not followed by ctrl-q among it;
    # other detach keys
    out=$( (sleep 1; printf '\020echo hi-$((6*7))\r'; sleep 1; printf '\001x'; sleep 1) |
        timeout 20 script -qfec "$BERTH_BIN attach --detach-keys ctrl-a,x shell" /dev/null 2>&1)
    expect_eq $? 0 "detached with ctrl-a x"
    expect_in "$out" hi-42 "the shell ran the typed command"
    running shell || bt_fail "detaching stopped the shell"
elif [ "${BERTH_TEST_STRICT:-0}" = 1 ]; then
    bt_fail "no script(1) to give attach a terminal"
fi
echo "== attach without a tty: stdin goes to the container and stays open after"
# waits for FILE to hold the lines given, then ends the attach with Ctrl-C
attach_input() { # attach_input INPUT FILE [attach options]
    local input=$1 f=$2
    shift 2
    printf "$input" | "$BERTH_BIN" attach --sig-proxy=false "$@" reader >"$f" 2>&1 &
    apid=$!
}
attach_input 'hello\nworld\n' "$BERTH_TEST_TMP/att3"
wait_for 50 grep -q "got world" "$BERTH_TEST_TMP/att3" || bt_fail "input: $(cat "$BERTH_TEST_TMP/att3")"
sleep 0.3
kill -INT $apid
ended $apid "reader"
expect_eq $? 130 "attach --sig-proxy=false after Ctrl-C"
expect_eq "$(cat "$BERTH_TEST_TMP/att3")" "got hello
got world" "the container read our input, and no end of file"
attach_input 'again\n' "$BERTH_TEST_TMP/att4"
wait_for 50 grep -q "got again" "$BERTH_TEST_TMP/att4" || bt_fail "second attach: $(cat "$BERTH_TEST_TMP/att4")"
kill -INT $apid
ended $apid "reader again"
attach_input 'nope\n' "$BERTH_TEST_TMP/att5" --no-stdin
sleep 1
kill -INT $apid
ended $apid "--no-stdin"
expect_eq "$(cat "$BERTH_TEST_TMP/att5")" "" "--no-stdin sends nothing"
b logs reader | grep -q nope && bt_fail "--no-stdin input reached the container"
b attach nosuch >/dev/null 2>&1
expect_eq $? 1 "attach to an unknown service"
b attach --index 2 web >/dev/null 2>&1
expect_eq $? 1 "attach to a missing replica"
b attach --detach-keys ctrl-nope web >/dev/null 2>&1
expect_eq $? 2 "bad detach keys"

echo "== -a shows stopped containers too"
b stop busy >/dev/null 2>&1 || bt_fail "stop busy"
out=$(b stats --no-stream --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}}')
expect_not_in "$out" "demo-busy-1" "stopped left out"
out=$(b stats --no-stream -a --format '{{.Name}} {{.CPUPerc}} {{.MemUsage}} {{.PIDs}}')
expect_in "$out" "demo-busy-1 0.00% 0B / 0B 0" "stopped with -a"

echo "== scale up and down"
out=$(b scale web=3 2>&1) || bt_fail "scale web=3: $out"
expect_eq "$(b ps web | awk 'NR>1{print $1}' | sort | tr '\n' ' ')" "demo-web-1 demo-web-2 demo-web-3 " "3 replicas"
expect_eq "$(b ps -q busy)" "" "other services untouched (busy stays stopped)"
out=$(b scale web=1 2>&1) || bt_fail "scale web=1: $out"
expect_eq "$(b ps -a web | awk 'NR>1{print $1}' | tr '\n' ' ')" "demo-web-1 " "scaled down to the first"
b scale web >/dev/null 2>&1
expect_eq $? 2 "SERVICE without =N"
b scale nosuch=2 >/dev/null 2>&1
expect_eq $? 1 "unknown service"

b down -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo PASS
