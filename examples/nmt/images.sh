#!/usr/bin/env bash
# Makes sure berth's store holds the images the nmt stack names (compose.yaml,
# with .env and NMT_*_IMAGE as berth reads them):
#   images.sh [BERTH]
# - images already present are used as they are;
# - the missing ones are pulled with `berth pull`, bounded by NMT_PULL_TIMEOUT
#   seconds (default 180): a registry counts as reachable when that succeeds;
# - when the pull fails, or NMT_OFFLINE=1 says not to try, make-images.sh
#   builds them offline from Debian's packages, and this says so.
set -euo pipefail
berth=${1:-berth}
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

mapfile -t services < <("$berth" config --services)
mapfile -t images < <("$berth" config --images)
[ ${#services[@]} -gt 0 ] && [ ${#services[@]} = ${#images[@]} ] || {
    echo "nmt: cannot read the services' images from compose.yaml" >&2
    exit 1
}
# find_missing: the services whose image is not in the store, in missing[]
# (SERVICE) and build[] (SERVICE=IMAGE, as make-images.sh takes them)
find_missing() {
    missing=()
    build=()
    local i
    for i in "${!services[@]}"; do
        if ! "$berth" image inspect "${images[$i]}" >/dev/null 2>&1; then
            missing+=("${services[$i]}")
            build+=("${services[$i]}=${images[$i]}")
            [ "${1:-}" = quiet ] || echo "nmt: ${images[$i]} (${services[$i]}) is not present"
        fi
    done
}
find_missing
if [ ${#missing[@]} = 0 ]; then
    echo "nmt: using the images present: ${images[*]}"
    exit 0
fi

if [ "${NMT_OFFLINE:-}" = 1 ]; then
    echo "nmt: NMT_OFFLINE=1: not pulling; building ${missing[*]} offline from Debian's packages"
else
    limit=${NMT_PULL_TIMEOUT:-180}
    echo "nmt: pulling ${missing[*]} (at most ${limit}s)"
    if timeout "$limit" "$berth" pull "${missing[@]}"; then
        echo "nmt: pulled the official images"
        exit 0
    fi
    # what was pulled before the failure stays; the rest is built
    find_missing quiet
    [ ${#missing[@]} -gt 0 ] || exit 0
    echo "nmt: the pull failed (no registry reachable?): building ${missing[*]} offline from Debian's packages"
fi
"$here/make-images.sh" "$berth" "${build[@]}"
