#!/usr/bin/env bash
# Pull benchmark: a multi-layer image of a few hundred MiB from a
# docker-registry on loopback, berth pull (download, verify, unpack) side
# by side with skopeo copy (download and verify only) and podman pull when
# installed. Runs as root in its own sandbox; nothing leaves the machine.
#   bench/image-pull.sh [BERTH_BIN]   (LAYERS=6 LAYER_MIB=40 to change)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
export BERTH_SOURCE_DIR=$here
export BERTH_BIN=${1:-${BERTH_BIN:-$here/build/cli/berth}}
. "$here/tests/lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
. "$here/tests/fixtures/image/registry.sh"
layers=${LAYERS:-6}
mib=${LAYER_MIB:-40}
command -v skopeo >/dev/null || bt_skip "needs skopeo"

# The image: the busybox test image plus $layers layers of $mib MiB of
# incompressible data and one layer of 20000 small files.
ti=$BT_TMP/ti
bash "$here/tests/fixtures/image/make-test-image.sh" "$ti" bench/big:1 >/dev/null
python3 - "$ti/oci" "$layers" "$mib" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
oci, n, mib = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(oci, "blobs/sha256")
idx = json.load(open(os.path.join(oci, "index.json")))
mdesc = idx["manifests"][0]
man = json.load(open(os.path.join(blobs, mdesc["digest"][7:])))
cfg = json.load(open(os.path.join(blobs, man["config"]["digest"][7:])))
def add_layer(members):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.GNU_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name); ti.size = len(data); ti.mtime = 1767225600
            t.addfile(ti, io.BytesIO(data))
    raw = raw.getvalue()
    gz = gzip.compress(raw, compresslevel=1, mtime=0)
    d = hashlib.sha256(gz).hexdigest()
    open(os.path.join(blobs, d), "wb").write(gz)
    man["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                          "digest": "sha256:" + d, "size": len(gz)})
    cfg["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw).hexdigest())
    cfg["history"].append({"created": cfg["created"], "created_by": "bench layer"})
for i in range(n):
    add_layer([("data/blob%d" % i, os.urandom(mib << 20))])
add_layer([("small/%03d/%d" % (i // 100, i), b"x" * (i % 4096)) for i in range(20000)])
c = json.dumps(cfg).encode(); cd = hashlib.sha256(c).hexdigest()
open(os.path.join(blobs, cd), "wb").write(c)
man["config"]["digest"] = "sha256:" + cd; man["config"]["size"] = len(c)
m = json.dumps(man).encode(); md = hashlib.sha256(m).hexdigest()
open(os.path.join(blobs, md), "wb").write(m)
mdesc["digest"] = "sha256:" + md; mdesc["size"] = len(m)
json.dump(idx, open(os.path.join(oci, "index.json"), "w"))
PY
img_registry_start bench 127.0.0.1:5000
skopeo copy -q --dest-tls-verify=false "oci:$ti/oci:1" docker://127.0.0.1:5000/bench/big:1
size=$(du -sm "$ti/oci/blobs" | cut -f1)

TIMEFORMAT='%R %U %S'
measure() { # NAME CMD... -> "NAME real user sys"
    local name=$1 t
    shift
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || true
    t=$({ time "$@" >/dev/null 2>&1; } 2>&1)
    echo "$name $t"
}
results=$BT_TMP/results
export BERTH_ROOT=$BT_TMP/berth-root
mkdir -p "$BERTH_ROOT"
measure "berth-pull" "$BERTH_BIN" pull -q localhost:5000/bench/big:1 >>"$results"
measure "berth-pull-again" "$BERTH_BIN" pull -q localhost:5000/bench/big:1 >>"$results"
measure "skopeo-copy" skopeo copy -q --src-tls-verify=false docker://127.0.0.1:5000/bench/big:1 \
    "dir:$BT_TMP/skopeo-dir" >>"$results"
if command -v podman >/dev/null; then
    measure "podman-pull" podman --root "$BT_TMP/podman" pull -q --tls-verify=false \
        127.0.0.1:5000/bench/big:1 >>"$results"
fi
echo "image: $((layers + 3)) layers, ${size} MiB compressed; $(nproc) CPUs"
printf '%-18s %8s %8s %8s %8s\n' tool real_s user_s sys_s vs_skopeo
sk=$(awk '$1 == "skopeo-copy" {print $2}' "$results")
while read -r name real user sys; do
    printf '%-18s %8s %8s %8s %8.2f\n' "$name" "$real" "$user" "$sys" \
        "$(python3 -c "print($real / $sk)")"
done <"$results"
