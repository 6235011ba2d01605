#!/usr/bin/env bash
# berth push and pull against Debian's docker-registry on loopback: push,
# skipped and cross-repository-mounted blobs, a pull into an empty store
# that gives the same image, a second pull that costs one manifest request,
# a manifest list (amd64 chosen, --platform honoured), registry-mirrors,
# insecure-registries, TLS with a test CA, and skopeo in both directions.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -euo pipefail
fx=$BERTH_SOURCE_DIR/tests/fixtures/image
. "$fx/registry.sh"
command -v docker-registry >/dev/null || bt_skip "needs docker-registry"
ti=$BT_TMP/ti
bash "$fx/make-test-image.sh" "$ti" berth-test/busybox:1 >/dev/null
read -r _ man < <(grep '^manifest' "$ti/digests")
read -r _ cfg < <(grep '^config' "$ti/digests")
layer=$(grep '^layer' "$ti/digests" | head -1 | cut -d' ' -f2)
img_registry_start main 127.0.0.1:5000
reg=localhost:5000

bt_berth load -q -i "$ti/image.tar"
bt_berth tag berth-test/busybox:1 $reg/test/bb:1
out=$(bt_berth push $reg/test/bb:1)
grep -q "^1: digest: $man size: " <<<"$out" || bt_fail "push: $out"
[ "$(grep -c ': Pushed$' <<<"$out")" = 3 ] || bt_fail "push did not upload 2 layers + config: $out"
got=$(curl -sf -o /dev/null -w '%header{docker-content-digest}' \
    -H 'Accept: application/vnd.oci.image.manifest.v1+json' http://127.0.0.1:5000/v2/test/bb/manifests/1)
[ "$got" = "$man" ] || bt_fail "registry has manifest $got, not $man"
out=$(bt_berth push $reg/test/bb:1)
[ "$(grep -c ': Layer already exists$' <<<"$out")" = 3 ] || bt_fail "second push: $out"
bt_berth tag berth-test/busybox:1 $reg/other/bb:2
out=$(bt_berth push $reg/other/bb:2)
[ "$(grep -c ': Mounted from test/bb$' <<<"$out")" = 3 ] || bt_fail "cross-repo mount: $out"

# Pull into an empty store: the same image, with its content.
export BERTH_ROOT=$BT_TMP/root-pull
mkdir -p "$BERTH_ROOT"
img_proxy_start 5001 5000 --log "$BT_TMP/requests"
out=$(bt_berth pull 127.0.0.1:5001/test/bb:1)
grep -q "Status: Downloaded newer image for 127.0.0.1:5001/test/bb:1" <<<"$out" || bt_fail "pull: $out"
[ "$(bt_berth images -q --no-trunc)" = "$cfg" ] || bt_fail "pulled image id"
bt_berth image inspect 127.0.0.1:5001/test/bb:1 >"$BT_TMP/inspect.json"
python3 - "$BT_TMP/inspect.json" "$man" <<'PY' || bt_fail "pulled image content"
import json, os, sys
[i] = json.load(open(sys.argv[1]))
assert i["RepoDigests"] == ["127.0.0.1:5001/test/bb@" + sys.argv[2]], i["RepoDigests"]
top, base = i["GraphDriver"]["Data"]["LowerDir"].split(":")
assert open(os.path.join(top, "srv/www/index.html")).read().startswith("hello")
assert os.access(os.path.join(base, "bin/busybox"), os.X_OK)
PY
# A second pull: one manifest request, no blob.
: >"$BT_TMP/requests"
out=$(bt_berth pull 127.0.0.1:5001/test/bb:1)
grep -q "Status: Image is up to date" <<<"$out" || bt_fail "second pull: $out"
[ "$(grep -c '/manifests/' "$BT_TMP/requests")" = 1 ] || bt_fail "second pull: $(cat "$BT_TMP/requests")"
! grep -q '/blobs/' "$BT_TMP/requests" || bt_fail "second pull fetched blobs"
# On a terminal, one progress line per layer, redrawn in place.
if command -v script >/dev/null; then
    BERTH_ROOT=$BT_TMP/root-tty
    mkdir -p "$BERTH_ROOT"
    BERTH_ROOT=$BERTH_ROOT script -qec "$BERTH_BIN pull 127.0.0.1:5001/test/bb:1" /dev/null \
        >"$BT_TMP/tty.out" || bt_fail "pull on a terminal"
    grep -q $'\033\\[' "$BT_TMP/tty.out" || bt_fail "no cursor movement on a terminal"
    [ "$(grep -ao "${layer:7:12}: Download complete" "$BT_TMP/tty.out" | head -1)" ] ||
        bt_fail "no per-layer line on a terminal: $(cat -v "$BT_TMP/tty.out")"
fi
# by digest too
bt_berth pull -q "127.0.0.1:5001/test/bb@$man" >/dev/null
bt_berth pull "127.0.0.1:5001/test/bb@sha256:$(printf '%064d' 0)" 2>"$BT_TMP/err" &&
    bt_fail "pull of an unknown digest succeeded"
grep -q 'not found' "$BT_TMP/err" || bt_fail "unknown digest: $(cat "$BT_TMP/err")"

# A manifest list with arm64 and amd64: amd64 is chosen, --platform picks.
python3 - "$ti" 5000 >"$BT_TMP/arm-config" <<'PY'
import hashlib, json, sys, urllib.request
ti, port = sys.argv[1], sys.argv[2]
base = "http://127.0.0.1:%s/v2/test/bb" % port
def put(url, data, ctype):
    req = urllib.request.Request(url, data=data, method="PUT", headers={"Content-Type": ctype})
    return urllib.request.urlopen(req)
def blob(data):
    d = "sha256:" + hashlib.sha256(data).hexdigest()
    loc = urllib.request.urlopen(urllib.request.Request(base + "/blobs/uploads/", data=b"", method="POST")).headers["Location"]
    put(loc + ("&" if "?" in loc else "?") + "digest=" + d, data, "application/octet-stream")
    return d
idx = json.load(open(ti + "/oci/index.json"))
amd = idx["manifests"][0]
man = json.load(open(ti + "/oci/blobs/sha256/" + amd["digest"][7:]))
cfg = json.load(open(ti + "/oci/blobs/sha256/" + man["config"]["digest"][7:]))
cfg["architecture"] = "arm64"; cfg["variant"] = "v8"
cdata = json.dumps(cfg).encode()
man["config"] = {"mediaType": man["config"]["mediaType"], "digest": blob(cdata), "size": len(cdata)}
mdata = json.dumps(man).encode()
mdig = "sha256:" + hashlib.sha256(mdata).hexdigest()
put(base + "/manifests/" + mdig, mdata, man["mediaType"])
index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
    {"mediaType": man["mediaType"], "digest": mdig, "size": len(mdata),
     "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
    {"mediaType": amd["mediaType"], "digest": amd["digest"], "size": amd["size"],
     "platform": {"os": "linux", "architecture": "amd64"}}]}
put(base + "/manifests/multi", json.dumps(index).encode(), index["mediaType"])
print(man["config"]["digest"])
PY
arm_cfg=$(cat "$BT_TMP/arm-config")
export BERTH_ROOT=$BT_TMP/root-multi
mkdir -p "$BERTH_ROOT"
if [ "$(uname -m)" = x86_64 ]; then
    bt_berth pull -q $reg/test/bb:multi >/dev/null
    [ "$(bt_berth images -q --no-trunc)" = "$cfg" ] || bt_fail "manifest list: amd64 not chosen"
fi
bt_berth pull -q --platform linux/arm64 $reg/test/bb:multi >/dev/null
bt_berth image inspect $reg/test/bb:multi | grep -q "\"Id\": \"$arm_cfg\"" ||
    bt_fail "--platform linux/arm64 not honoured"
bt_berth pull --platform linux/s390x $reg/test/bb:multi 2>"$BT_TMP/err" && bt_fail "s390x pulled"
grep -q 'no manifest for platform linux/s390x' "$BT_TMP/err" || bt_fail "platform message"

# registry-mirrors: docker.io names are fetched from the mirror.
export BERTH_ROOT=$BT_TMP/root-mirror BERTH_CONFIG=$BT_TMP/mirror.json
mkdir -p "$BERTH_ROOT"
echo '{"registry-mirrors": ["http://127.0.0.1:5001"]}' >"$BERTH_CONFIG"
: >"$BT_TMP/requests"
bt_berth pull -q test/bb:1 >/dev/null || bt_fail "pull through the mirror"
grep -q 'GET /v2/test/bb/manifests/1' "$BT_TMP/requests" || bt_fail "mirror not used"
[ "$(bt_berth images --format json | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["Repository"])')" = test/bb ] ||
    bt_fail "mirror pull is not named test/bb"

# insecure-registries: a non-loopback registry is https only unless listed.
ip addr add 10.77.0.1/32 dev lo
img_registry_start plain 10.77.0.1:5000
export BERTH_ROOT=$BT_TMP/root-insecure BERTH_CONFIG=$BT_TMP/insecure.json
mkdir -p "$BERTH_ROOT"
echo '{}' >"$BERTH_CONFIG"
bt_berth tag "$cfg" 10.77.0.1:5000/test/bb:1 2>/dev/null || true
bt_berth load -q -i "$ti/image.tar"
bt_berth tag berth-test/busybox:1 10.77.0.1:5000/test/bb:1
bt_berth push 10.77.0.1:5000/test/bb:1 >/dev/null 2>"$BT_TMP/err" && bt_fail "http used without insecure-registries"
echo '{"insecure-registries": ["10.77.0.0/16"]}' >"$BERTH_CONFIG"
bt_berth push -q 10.77.0.1:5000/test/bb:1 || bt_fail "push with insecure-registries"
bt_berth rmi -f "$cfg" >/dev/null
bt_berth pull -q 10.77.0.1:5000/test/bb:1 >/dev/null || bt_fail "pull with insecure-registries"

# TLS with a test CA (certs.d/<host>/ca.crt next to berth.json).
tls=$BT_TMP/tls
mkdir -p "$tls" "$BT_TMP/certs.d/10.77.0.1:5443"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=berth-test-ca \
    -keyout "$tls/ca.key" -out "$tls/ca.crt" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj /CN=10.77.0.1 -keyout "$tls/reg.key" \
    -out "$tls/reg.csr" 2>/dev/null
printf 'subjectAltName=IP:10.77.0.1\n' >"$tls/ext"
openssl x509 -req -in "$tls/reg.csr" -CA "$tls/ca.crt" -CAkey "$tls/ca.key" -CAcreateserial \
    -days 2 -extfile "$tls/ext" -out "$tls/reg.crt" 2>/dev/null
img_registry_start tls 10.77.0.1:5443 "$tls/reg.crt" "$tls/reg.key"
export BERTH_CONFIG=$BT_TMP/tls.json
echo '{}' >"$BERTH_CONFIG"
bt_berth tag "$cfg" 10.77.0.1:5443/test/bb:1
bt_berth push 10.77.0.1:5443/test/bb:1 >/dev/null 2>"$BT_TMP/err" && bt_fail "unknown CA accepted"
cp "$tls/ca.crt" "$BT_TMP/certs.d/10.77.0.1:5443/ca.crt"
bt_berth push -q 10.77.0.1:5443/test/bb:1 || bt_fail "push over TLS with the test CA"
bt_berth rmi -f "$cfg" >/dev/null
bt_berth pull -q 10.77.0.1:5443/test/bb:1 >/dev/null || bt_fail "pull over TLS"

# skopeo in both directions: the digests agree.
if command -v skopeo >/dev/null; then
    export BERTH_ROOT=$BT_TMP/root-skopeo BERTH_CONFIG=$BT_TMP/berth.json
    mkdir -p "$BERTH_ROOT"
    skopeo copy -q --dest-tls-verify=false "oci:$ti/oci:1" \
        docker://127.0.0.1:5000/sk/bb:1 || bt_fail "skopeo copy"
    bt_berth pull -q $reg/sk/bb:1 >/dev/null
    bt_berth image inspect $reg/sk/bb:1 | grep -q "$reg/sk/bb@$man" || bt_fail "skopeo -> berth digest"
    bt_berth tag $reg/sk/bb:1 $reg/from-berth/bb:1
    bt_berth push -q $reg/from-berth/bb:1
    d=$(skopeo inspect --tls-verify=false --format '{{.Digest}}' docker://127.0.0.1:5000/from-berth/bb:1)
    [ "$d" = "$man" ] || bt_fail "berth -> skopeo digest $d"
    skopeo copy -q --src-tls-verify=false docker://127.0.0.1:5000/from-berth/bb:1 "oci:$BT_TMP/sk-oci:x" ||
        bt_fail "skopeo pull of a berth push"
elif [ "${BERTH_TEST_STRICT:-0}" = 1 ]; then
    bt_fail "skopeo is not installed"
fi
# The sandbox's clean-up runs as an EXIT trap; errexit must not turn its
# best-effort steps into a failure of a test that passed.
set +e
echo PASS
