#!/usr/bin/env bash
# Runtime benchmarks, side by side in one run (root; runs in its own
# network, mount and pid namespaces with temporary state):
#   - run-to-exit of `true`: berth runtime run vs crun run, same bundle
#   - berth container run --rm of `true` (and podman run --rm if installed)
#   - resident memory of one berth-monitor (and of conmon if installed)
# Usage: bench/engine.sh [path/to/berth] [iterations]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
BERTH=$(realpath "${1:-$here/build/cli/berth}")
N=${2:-50}
[ "$(id -u)" = 0 ] || { echo "bench/engine.sh needs root" >&2; exit 1; }

if [ "${BERTH_BENCH_INNER:-}" != 1 ]; then
    export BERTH_BENCH_INNER=1
    exec unshare --net --mount --pid --fork --mount-proc --propagation private \
        bash "$0" "$BERTH" "$N"
fi

tmp=$(mktemp -d /tmp/berth-bench.XXXXXX)
mount -t tmpfs berth-bench "$tmp"
cleanup() {
    find /sys/fs/cgroup -depth -type d -name "berth-bench-$$*" -exec rmdir {} + 2>/dev/null || true
    umount -l "$tmp" 2>/dev/null || true
    rmdir "$tmp" 2>/dev/null || true
}
trap cleanup EXIT
export BERTH_ROOT=$tmp/root BERTH_RUNROOT=$tmp/run BERTH_CGROUP_PARENT=berth-bench-$$
mkdir -p "$BERTH_ROOT" "$BERTH_RUNROOT"
# crun refuses a cgroup2 mount with controllers next to v1 ones
umount /sys/fs/cgroup/unified 2>/dev/null || true

bash "$here/tests/fixtures/busybox-rootfs.sh" "$tmp/b/rootfs" >/dev/null
"$BERTH" runtime spec --bundle "$tmp/b"
python3 - "$tmp/b/config.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
c["process"]["terminal"] = False
c["process"]["args"] = ["true"]
json.dump(c, open(sys.argv[1], "w"))
PY
cd "$tmp/b"

ms_per_run() { # ms_per_run N COMMAND... (the command gets the iteration number as $i)
    local n=$1 start end
    shift
    start=$(date +%s%N)
    for i in $(seq 1 "$n"); do "$@" "$i" >/dev/null; done
    end=$(date +%s%N)
    echo "scale=2; ($end - $start) / 1000000 / $n" | bc
}
berth_rt() { "$BERTH" runtime run "b$1"; }
crun_rt() { crun --root "$tmp/crun" run "c$1"; }
berth_ctr() { "$BERTH" container run --rm --rootfs "$tmp/b/rootfs" true; }
podman_ctr() { podman run --rm busybox true; }

# warm caches once
berth_rt warm >/dev/null
command -v crun >/dev/null && crun_rt warm >/dev/null

echo "run-to-exit of 'true', $N runs each"
b=$(ms_per_run "$N" berth_rt)
printf '  berth runtime run   %8s ms\n' "$b"
if command -v crun >/dev/null; then
    c=$(ms_per_run "$N" crun_rt)
    printf '  crun run            %8s ms   (berth/crun = %s)\n' "$c" "$(echo "scale=2; $b / $c" | bc)"
fi
n2=$((N / 2 > 0 ? N / 2 : 1))
bc_=$(ms_per_run "$n2" berth_ctr)
printf '  berth container run --rm %5s ms\n' "$bc_"
if command -v podman >/dev/null && podman image exists busybox 2>/dev/null; then
    p=$(ms_per_run "$n2" podman_ctr)
    printf '  podman run --rm     %8s ms   (berth/podman = %s)\n' "$p" "$(echo "scale=2; $bc_ / $p" | bc)"
else
    echo "  podman run --rm: not measured (podman or its busybox image is not installed)"
fi

echo "resident memory of one monitor"
id=$("$BERTH" container run -d --rootfs "$tmp/b/rootfs" sleep 60)
mp=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["MonitorPid"])' \
    "$BERTH_ROOT/containers/$id/state.json")
rss=$(awk '/^VmRSS/ {print $2}' /proc/"$mp"/status)
pss=$(awk '/^Pss:/ {print $2}' /proc/"$mp"/smaps_rollup)
priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' /proc/"$mp"/smaps_rollup)
printf '  berth-monitor  RSS %s KiB, PSS %s KiB, private %s KiB\n' "$rss" "$pss" "$priv"
if command -v conmon >/dev/null; then
    echo "  conmon: installed, but needs podman to start it; not measured here"
else
    echo "  conmon: not installed, not measured"
fi
"$BERTH" container rm -f "$id" >/dev/null
