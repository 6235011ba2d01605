#!/usr/bin/env bash
# Times `berth config` on a generated project of 1,000 services, side by side
# with `docker-compose config` and `podman-compose config` in the same run,
# and measures each one's peak memory. Prints a Markdown table with the
# ratios to berth.
#
#   bench/config.sh [path/to/berth]
#   BENCH_SERVICES=1000 BENCH_RUNS=10 BENCH_TIMEOUT=300 bench/config.sh build/cli/berth
#
# The peers are Debian's docker-compose and podman-compose packages (podman-
# compose asks `podman --version` first, so podman too; hyperfine for the
# timing); they are installed here when missing, never by make check. A peer
# that cannot run is reported as such.
set -euo pipefail

berth=$(realpath "${1:-build/cli/berth}")
services=${BENCH_SERVICES:-1000}
runs=${BENCH_RUNS:-10}
limit=${BENCH_TIMEOUT:-300} # seconds one run of a peer may take
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d /tmp/berth-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

[ -x "$berth" ] || { echo "bench: no berth binary at $berth (run make build)" >&2; exit 1; }

missing=()
for pkg in docker-compose podman-compose podman hyperfine time; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q '^install ok installed$' ||
        missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "bench: installing ${missing[*]}" >&2
    sudo=
    [ "$(id -u)" = 0 ] || sudo=sudo
    if ! { $sudo apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"$tmp/apt.log" 2>&1; then
        echo "bench: could not install ${missing[*]}; comparing with what is there" >&2
        tail -3 "$tmp/apt.log" >&2
    fi
fi

project=$tmp/bench
mkdir -p "$project"
python3 "$here/gen-compose.py" "$services" >"$project/compose.yaml"
cd "$project"

names=("berth config")
cmds=("$berth config")
if command -v docker-compose >/dev/null; then
    v=$(docker-compose version --short 2>/dev/null || true)
    names+=("docker-compose config ${v:+($v)}")
    cmds+=("docker-compose config")
fi
if command -v podman-compose >/dev/null; then
    v=$(podman-compose version 2>/dev/null | sed -n 's/^podman-composer* version:* *//p' | head -1 || true)
    if podman-compose -h 2>&1 | grep -q '[{,]config[,}]'; then
        names+=("podman-compose config ${v:+($v)}")
        cmds+=("podman-compose config")
    else
        # Debian's podman-compose 1.0 has no config command; its nearest is
        # reading, resolving and printing the podman commands of up.
        names+=("podman-compose --dry-run up -d ${v:+($v)}")
        cmds+=("podman-compose --dry-run up -d")
    fi
fi

# seconds, mean over $runs runs after one warm-up
measure_time() {
    local cmd=$1
    if command -v hyperfine >/dev/null; then
        hyperfine -N --warmup 1 --runs "$runs" --export-json "$tmp/h.json" "$cmd" >/dev/null 2>&1
        python3 -c 'import json,sys; print("%.4f" % json.load(open(sys.argv[1]))["results"][0]["mean"])' "$tmp/h.json"
    else
        local total=0 start end
        $cmd >/dev/null 2>&1
        for _ in $(seq "$runs"); do
            start=$(date +%s%N)
            $cmd >/dev/null 2>&1
            end=$(date +%s%N)
            total=$((total + end - start))
        done
        python3 -c "print('%.4f' % ($total / $runs / 1e9))"
    fi
}

# peak resident set size in KiB, the largest of three runs
measure_rss() {
    local cmd=$1 max=0 kb
    for _ in 1 2 3; do
        /usr/bin/time -f '%M' -o "$tmp/rss" $cmd >/dev/null 2>&1
        kb=$(tail -1 "$tmp/rss")
        [ "$kb" -gt "$max" ] && max=$kb
    done
    echo "$max"
}

echo "bench: $services services, $(wc -l <compose.yaml) lines; $runs runs each on $(nproc) CPUs" >&2
echo
echo "| command | mean time | peak RSS | time / berth | RSS / berth |"
echo "| --- | ---: | ---: | ---: | ---: |"
base_t='' base_m=''
for i in "${!cmds[@]}"; do
    cmd=${cmds[$i]}
    # One checked run first, bounded: its time and memory are the result for
    # a tool too slow to repeat.
    rc=0
    /usr/bin/time -f '%e %M' -o "$tmp/first" timeout "$limit" $cmd >"$tmp/out" 2>"$tmp/err" || rc=$?
    if [ "$rc" = 124 ]; then
        echo "| ${names[$i]} | > ${limit} s (stopped) | | > $(python3 -c "print('%.0f' % ($limit / $base_t))")x | |"
        continue
    elif [ "$rc" != 0 ]; then
        echo "| ${names[$i]} | failed: $(grep -v '^\[' "$tmp/err" | head -1 | cut -c1-80) | | | |"
        continue
    fi
    read -r first_t first_m <"$tmp/first"
    if python3 -c "import sys; sys.exit(0 if float(sys.argv[1]) > 10 else 1)" "$first_t"; then
        t=$first_t m=$first_m note=" (1 run)"
    else
        t=$(measure_time "$cmd")
        m=$(measure_rss "$cmd")
        note=
    fi
    [ -n "$base_t" ] || { base_t=$t; base_m=$m; }
    python3 - "${names[$i]}" "$t" "$m" "$base_t" "$base_m" "$note" <<'PY'
import sys
name, t, m, bt, bm, note = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
print("| %s | %.1f ms%s | %.1f MiB | %.1fx | %.1fx |" % (name, t * 1000, note, m / 1024, t / bt, m / bm))
PY
done
