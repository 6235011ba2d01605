#!/usr/bin/env bash
# `up -d` and `down` of the quickstart stack and of 20 independent services:
# berth, podman-compose and docker-compose (with Debian's dockerd) side by
# side, in one run, on the same offline busybox image.
#
#   bench/up-down.sh [BERTH] [ROUNDS]       (as root)
#
# Everything runs in a private network, mount and pid namespace with its
# state in a temporary directory, as the tests do, so no bridge, rule or
# mount is made in the host's namespaces and nothing is left afterwards.
# Missing peers are installed from Debian with apt-get unless
# BENCH_INSTALL=0; a peer that cannot run here is reported as such, and a
# run where a peer did not really start every container (or left some after
# down) is reported as failed, not timed. podman runs with runc when it is
# installed: crun refuses the hybrid cgroup layout of some machines. Results
# (median of ROUNDS, default 5) go to standard output as a Markdown table.
# BENCH_PEERS=0 times berth alone.
set -uo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
export BERTH_SOURCE_DIR=$src
export BERTH_BIN=$(realpath "${1:-$src/build/cli/berth}")
rounds=${2:-5}
. "$src/tests/lib/sandbox.sh"
if [ "${BERTH_IN_SANDBOX:-}" != 1 ]; then
    [ "$(id -u)" = 0 ] || { echo "bench/up-down.sh: run it as root" >&2; exit 1; }
    if [ "${BENCH_INSTALL:-1}" = 1 ] && [ "${BENCH_PEERS:-1}" = 1 ]; then
        missing=""
        command -v podman-compose >/dev/null || missing="$missing podman-compose podman"
        command -v docker-compose >/dev/null || missing="$missing docker-compose"
        command -v dockerd >/dev/null || missing="$missing docker.io"
        if [ -n "$missing" ]; then
            echo "installing:$missing" >&2
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >&2 ||
                echo "could not install:$missing (those peers are skipped)" >&2
        fi
    fi
fi
bt_sandbox_enter "$0" "$@"
T=$BERTH_TEST_TMP
log=$T/bench.log
: >"$log"

now() { date +%s%N; }
ms() { echo $((($2 - $1) / 1000000)); }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

# ---- the stacks ----
bash "$src/tests/fixtures/image/make-test-image.sh" "$T/img" bench/busybox:latest >/dev/null ||
    { echo "cannot make the test image" >&2; exit 1; }

mkdir -p "$T/quickstart" "$T/svc20"
cp -r "$src/examples/quickstart/www" "$T/quickstart/"
# no top-level name: docker-compose 1.29 refuses it; the directory names
# the project for every tool
sed -e 's|berth-quickstart/busybox:latest|bench/busybox:latest|' -e '/^name:/d' \
    "$src/examples/quickstart/compose.yaml" >"$T/quickstart/compose.yaml"
{
    echo "services:"
    for i in $(seq -w 1 20); do
        echo "  s$i:"
        echo "    image: bench/busybox:latest"
        echo "    command: [sh, -c, \"trap 'exit 0' TERM; sleep 100000 & wait\"]"
    done
} >"$T/svc20/compose.yaml"

# ---- the tools ----
# dockerd (and its containerd) runs only while docker-compose is measured,
# so that it does not load the machine while the others are.
docker_start() {
    dockerd --data-root "$T/docker/root" --exec-root "$T/docker/exec" \
        -H "unix://$T/docker/sock" --pidfile "$T/docker/pid" --iptables=false \
        --ip6tables=false --cgroup-parent "/$BERTH_CGROUP_PARENT-docker" >>"$T/docker/log" 2>&1 &
    for _ in $(seq 100); do docker version >/dev/null 2>&1 && return 0; sleep 0.2; done
    return 1
}
docker_stop() {
    [ -f "$T/docker/pid" ] || return 0
    kill "$(cat "$T/docker/pid")" 2>/dev/null
    for _ in $(seq 100); do [ -f "$T/docker/pid" ] || return 0; sleep 0.2; done
}
declare -A up_cmd down_cmd ps_cmd
tools=()

export WEB_PORT=18080
"$BERTH_BIN" load -q -i "$T/img/image.tar" >/dev/null
up_cmd[berth]="$BERTH_BIN up -d"
down_cmd[berth]="$BERTH_BIN down -t 10"
ps_cmd[berth]="$BERTH_BIN container ls -q"
tools+=(berth)

if [ "${BENCH_PEERS:-1}" = 0 ]; then
    echo "peers: left out (BENCH_PEERS=0)" >&2
elif command -v dockerd >/dev/null && command -v docker-compose >/dev/null; then
    mkdir -p "$T/docker"
    export DOCKER_HOST=unix://$T/docker/sock
    if docker_start && docker load -q -i "$T/img/image.tar" >/dev/null 2>&1; then
        up_cmd[docker-compose]="docker-compose up -d"
        down_cmd[docker-compose]="docker-compose down -t 10"
        ps_cmd[docker-compose]="docker ps -q"
        tools+=(docker-compose)
    else
        echo "docker-compose: dockerd did not start here: $(tail -3 "$T/docker/log")" >&2
    fi
    docker_stop
else
    echo "docker-compose: not installed (needs docker-compose and docker.io)" >&2
fi

if [ "${BENCH_PEERS:-1}" = 0 ]; then
    :
elif command -v podman-compose >/dev/null && command -v podman >/dev/null; then
    mkdir -p "$T/podman"
    cat >"$T/podman/storage.conf" <<CONF
[storage]
driver = "overlay"
graphroot = "$T/podman/root"
runroot = "$T/podman/run"
CONF
    cat >"$T/podman/containers.conf" <<CONF
[engine]
cgroup_manager = "cgroupfs"
$(command -v runc >/dev/null && echo 'runtime = "runc"')
events_logger = "file"
events_logfile_path = "$T/podman/events.log"
tmp_dir = "$T/podman/tmp"
[containers]
cgroups = "enabled"
CONF
    export CONTAINERS_STORAGE_CONF=$T/podman/storage.conf CONTAINERS_CONF=$T/podman/containers.conf
    if podman load -q -i "$T/img/image.tar" >/dev/null 2>&1; then
        up_cmd[podman-compose]="podman-compose up -d"
        down_cmd[podman-compose]="podman-compose down -t 10"
        ps_cmd[podman-compose]="podman ps -q"
        tools+=(podman-compose)
    else
        echo "podman-compose: podman cannot run here: $(podman load -i "$T/img/image.tar" 2>&1 | tail -2)" >&2
    fi
else
    echo "podman-compose: not installed" >&2
fi

# ---- measure ----
declare -A res want=([quickstart]=2 [svc20]=20)
for tool in "${tools[@]}"; do
    if [ "$tool" = docker-compose ] && ! docker_start; then
        echo "docker-compose: dockerd did not start again" >&2
        continue
    fi
    for stack in quickstart svc20; do
        ups=() downs=() ok=1
        for _ in $(seq "$rounds"); do
            cd "$T/$stack"
            a=$(now)
            ${up_cmd[$tool]} >>"$log" 2>&1 || { ok=0; echo "$tool up failed on $stack" >&2; }
            b=$(now)
            # a peer may report success without having started everything
            running=$(${ps_cmd[$tool]} 2>/dev/null | wc -l)
            if [ "$running" != "${want[$stack]}" ]; then
                ok=0
                echo "$tool: $running of ${want[$stack]} containers running after up on $stack" >&2
                tail -5 "$log" >&2
            fi
            ${down_cmd[$tool]} >>"$log" 2>&1 || { ok=0; echo "$tool down failed on $stack" >&2; }
            c=$(now)
            left=$(${ps_cmd[$tool]} -a 2>/dev/null | wc -l)
            [ "$left" = 0 ] || { ok=0; echo "$tool: $left containers left after down on $stack" >&2; }
            ups+=("$(ms "$a" "$b")")
            downs+=("$(ms "$b" "$c")")
            [ $ok = 1 ] || break
        done
        if [ $ok = 1 ]; then
            res[$tool,$stack,up]=$(printf '%s\n' "${ups[@]}" | median)
            res[$tool,$stack,down]=$(printf '%s\n' "${downs[@]}" | median)
        fi
    done
    if [ "$tool" = docker-compose ]; then docker_stop; fi
done

# ---- report ----
ratio() { # ratio PEER_MS BERTH_MS
    [ -n "$1" ] && [ -n "$2" ] && [ "$2" -gt 0 ] && awk -v p="$1" -v b="$2" 'BEGIN { printf "%.1fx", p / b }'
}
echo "| stack | step | $(printf '%s | ' "${tools[@]}")ratios (peer / berth) |"
echo "|---|---|$(printf -- '---|%.0s' "${tools[@]}")---|"
for stack in quickstart svc20; do
    for step in up down; do
        row="| $stack | $step -d |"
        [ $step = down ] && row="| $stack | down |"
        r=""
        for tool in "${tools[@]}"; do
            v=${res[$tool,$stack,$step]:-}
            row="$row ${v:-failed}${v:+ ms} |"
            if [ "$tool" != berth ]; then
                x=$(ratio "$v" "${res[berth,$stack,$step]:-}")
                [ -n "$x" ] && r="$r $tool $x;"
            fi
        done
        echo "$row${r:- -} |"
    done
done
echo
echo "rounds: $rounds (median), machine: $(nproc) cores, $(uname -r)"
if [ -n "${DOCKER_HOST:-}" ]; then docker_stop; fi
