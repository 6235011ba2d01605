#!/usr/bin/env bash
# Makes the quickstart's image offline from Debian's busybox-static and
# loads it into berth's store as berth-quickstart/busybox:latest:
#   make-image.sh [BERTH [--force]]
# An image already there is kept, so that running it again does not make
# `berth up` recreate the project's containers for a new image id
# (--force makes it anew).
set -euo pipefail
berth=${1:-berth}
name=berth-quickstart/busybox:latest
bb=/bin/busybox
die() {
    echo "make-image.sh: $*" >&2
    exit 1
}
[ -x "$bb" ] || die "needs busybox-static ($bb)"
# a dynamically linked busybox would not run in an image without a libc
if command -v ldd >/dev/null && ldd "$bb" >/dev/null 2>&1; then
    die "$bb is dynamically linked; install busybox-static"
fi
if [ "${2:-}" != --force ] && "$berth" image inspect "$name" >/dev/null 2>&1; then
    echo "$name is there already"
    exit 0
fi
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
"$berth" import "$work/rootfs.tar" "$name" >/dev/null
echo "made $name"
