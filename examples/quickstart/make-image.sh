#!/usr/bin/env bash
# Makes the quickstart's image offline from Debian's busybox-static and
# loads it into berth's store as berth-quickstart/busybox:latest:
#   make-image.sh [BERTH]
set -euo pipefail
berth=${1:-berth}
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-image.sh: needs busybox-static ($bb)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root=$work/rootfs
mkdir -p "$root"/{bin,sbin,etc,tmp,root,proc,sys,dev,www,data,usr/bin,usr/sbin}
chmod 1777 "$root/tmp"
cp "$bb" "$root/bin/busybox"
for applet in $("$bb" --list); do
    [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
tar --numeric-owner -C "$root" -cf "$work/rootfs.tar" .
"$berth" import "$work/rootfs.tar" berth-quickstart/busybox:latest >/dev/null
echo "made berth-quickstart/busybox:latest"
