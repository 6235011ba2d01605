#!/usr/bin/env bash
# berth cp and berth container cp: a file and a directory (a symlink, a
# nested dir, modes kept) into a running service, read back with exec;
# a file, a dir and dir/. out; into a named volume, seen from a second
# container; out of a stopped container; tar streams both ways with '-';
# a symlink to /etc/../../host resolves inside the container (a host canary
# stays untouched); replicas and --index; a container with its own user
# namespace, running and stopped; errors with exit code 1; no mounts or
# files left.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

up_project demo <<'YAML'
services:
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    volumes:
      - data:/data
  peer:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    volumes:
      - data:/shared
  gone:
    image: berth-test/busybox:latest
    command: [sh, -c, "mkdir -p /out/sub && echo left behind >/out/sub/f.txt && echo top >/out/top.txt"]
    healthcheck: {disable: true}
    volumes:
      - data:/vol
      - data:/ro:ro
  pair:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    scale: 2
  fresh:
    image: berth-test/busybox:latest
    healthcheck: {disable: true}
    profiles: [later]
volumes:
  data: {}
YAML
b up -d >/dev/null 2>&1 || bt_fail "up: $(b up -d 2>&1)"
b container wait demo-gone-1 >/dev/null || bt_fail "wait for gone"
mounts_before=$(cut -d' ' -f2 /proc/self/mounts | sort)
# the copies make no files of their own (no temporary dirs or archives)
state_files() { find "$BERTH_RUNROOT" "$BERTH_ROOT" -maxdepth 3 ! -path '*/volumes/*' | sort; }
state_before=$(state_files)
H=$BERTH_TEST_TMP/host
mkdir -p "$H/tree/nested/deep"
echo hello >"$H/file.txt"
chmod 0640 "$H/file.txt"
echo deep >"$H/tree/nested/deep/d.txt"
chmod 0751 "$H/tree/nested"
echo run >"$H/tree/run.sh"
chmod 0755 "$H/tree/run.sh"
ln -s nested/deep/d.txt "$H/tree/link"
chown 1234:1234 "$H/file.txt"

echo "== a file into a running service: uid 0, mode kept"
b cp "$H/file.txt" web:/tmp/ 2>/dev/null || bt_fail "cp file in"
expect_eq "$(b exec -T web cat /tmp/file.txt)" "hello" "copied file content"
expect_eq "$(b exec -T web stat -c '%a %u:%g' /tmp/file.txt)" "640 0:0" "mode kept, owner root"
echo "== -a keeps the host's uid/gid; a new name for a missing destination"
b cp -a "$H/file.txt" web:/tmp/renamed.txt 2>/dev/null || bt_fail "cp -a"
expect_eq "$(b exec -T web stat -c '%u:%g' /tmp/renamed.txt)" "1234:1234" "-a keeps uid/gid"
expect_eq "$(b exec -T web cat /tmp/renamed.txt)" "hello" "renamed copy"

echo "== a directory with a symlink and a nested dir"
b cp "$H/tree" web:/tmp 2>/dev/null || bt_fail "cp dir in"
expect_eq "$(b exec -T web cat /tmp/tree/nested/deep/d.txt)" "deep" "nested file"
expect_eq "$(b exec -T web readlink /tmp/tree/link)" "nested/deep/d.txt" "symlink kept as a link"
expect_eq "$(b exec -T web stat -c %a /tmp/tree/nested)" "751" "dir mode kept"
expect_eq "$(b exec -T web stat -c %a /tmp/tree/run.sh)" "755" "exec mode kept"
echo "== a directory to a new name; dir/. into an existing dir"
b cp "$H/tree" web:/tmp/copy2 2>/dev/null || bt_fail "cp dir to a new name"
expect_eq "$(b exec -T web cat /tmp/copy2/nested/deep/d.txt)" "deep" "dir under the new name"
b exec -T web mkdir /tmp/into || bt_fail "mkdir"
b cp "$H/tree/." web:/tmp/into 2>/dev/null || bt_fail "cp dir/. in"
expect_eq "$(b exec -T web ls /tmp/into | tr '\n' ' ')" "link nested run.sh " "contents of dir/."

echo "== copy out: a file, a dir, dir/."
O=$BERTH_TEST_TMP/out
mkdir -p "$O"
b exec -T web sh -c 'mkdir -p /srv/d/sub && echo one >/srv/d/one && echo two >/srv/d/sub/two && chmod 700 /srv/d/sub && chown 7:7 /srv/d/one'
b cp web:/srv/www/index.html "$O/" 2>/dev/null || bt_fail "cp file out"
expect_eq "$(cat "$O/index.html")" "hello from the berth test image" "file out"
b cp web:/srv/d "$O/d" 2>/dev/null || bt_fail "cp dir out"
expect_eq "$(cat "$O/d/sub/two")" "two" "dir out"
expect_eq "$(stat -c %a "$O/d/sub")" "700" "dir mode out"
expect_eq "$(stat -c %u "$O/d/one")" "$(id -u)" "out: owned by the invoking user"
mkdir "$O/contents"
b cp web:/srv/d/. "$O/contents" 2>/dev/null || bt_fail "cp dir/. out"
expect_eq "$(ls "$O/contents" | tr '\n' ' ')" "one sub " "dir/. out copies the contents"
b cp -a web:/srv/d/one "$O/one-a" 2>/dev/null || bt_fail "cp -a out"
expect_eq "$(stat -c %u:%g "$O/one-a")" "7:7" "-a out keeps uid/gid"

echo "== hard links stay hard links, both ways"
b exec -T web sh -c 'mkdir /srv/h && echo linked >/srv/h/a && ln /srv/h/a /srv/h/b'
b cp web:/srv/h "$O/h" 2>/dev/null || bt_fail "cp hard links out"
expect_eq "$(stat -c %h "$O/h/a") $(stat -c %i "$O/h/a")" "2 $(stat -c %i "$O/h/b")" "one file, two names"
b cp "$O/h" web:/tmp/h2 2>/dev/null || bt_fail "cp hard links in"
expect_eq "$(b exec -T web stat -c %h /tmp/h2/b)" "2" "one file, two names inside"
expect_eq "$(b exec -T web cat /tmp/h2/b)" "linked" "the linked content"

echo "== into a named volume: a second container sees it"
b cp "$H/file.txt" web:/data/vol.txt 2>/dev/null || bt_fail "cp into volume"
expect_eq "$(b exec -T peer cat /shared/vol.txt)" "hello" "the volume has the file"

echo "== a symlink to /etc/../../host stays inside the container"
echo canary >"$BERTH_TEST_TMP/canary"
canary_sum=$(md5sum "$BERTH_TEST_TMP/canary")
b exec -T web sh -c "mkdir -p /tmp/esc && ln -s /etc/../..$BERTH_TEST_TMP /tmp/esc/host && ln -s /etc/../..$BERTH_TEST_TMP/canary /tmp/esc/canary"
# the same path exists inside the container: that is where the links lead
b exec -T web mkdir -p "$BERTH_TEST_TMP" || bt_fail "mkdir in the container"
b cp "$H/file.txt" "web:/tmp/esc/host/canary" 2>/dev/null || bt_fail "cp through the link"
expect_eq "$(md5sum "$BERTH_TEST_TMP/canary")" "$canary_sum" "host canary untouched by cp in"
expect_eq "$(b exec -T web cat "$BERTH_TEST_TMP/canary")" "hello" "the copy landed in the container"
b exec -T web sh -c "echo inside >$BERTH_TEST_TMP/canary" || bt_fail "write in the container"
b cp "$H/tree" "web:/tmp/esc/host/" 2>/dev/null || bt_fail "cp a dir through the link"
[ ! -e "$BERTH_TEST_TMP/tree" ] || bt_fail "a directory was written on the host"
b cp -L web:/tmp/esc/canary "$O/canary" 2>/dev/null || bt_fail "cp -L out through the link"
expect_eq "$(cat "$O/canary")" "inside" "cp -L out read the container's file, not the host's"
b cp web:/tmp/esc/host/canary "$O/canary2" 2>/dev/null || bt_fail "cp out through a dir link"
expect_eq "$(cat "$O/canary2")" "inside" "cp out through a dir link stays inside"
b cp web:/tmp/esc/canary "$O/canary-link" 2>/dev/null || bt_fail "cp out a link"
[ -L "$O/canary-link" ] || bt_fail "without -L the link itself is copied"
expect_eq "$(md5sum "$BERTH_TEST_TMP/canary")" "$canary_sum" "host canary untouched"
[ ! -e "$BERTH_TEST_TMP/file.txt" ] || bt_fail "a file was written on the host"

echo "== tar streams with -"
b cp web:/srv/d - >"$O/d.tar" || bt_fail "cp out to -"
expect_in "$(tar -tf "$O/d.tar" | tr '\n' ' ')" "d/sub/two" "tar stream out"
b exec -T web mkdir -p /opt
(cd "$H" && tar -cf - file.txt tree) | b cp - web:/opt 2>/dev/null || bt_fail "cp - in"
expect_eq "$(b exec -T web cat /opt/tree/nested/deep/d.txt)" "deep" "tar stream in"
(cd "$H" && tar -czf - file.txt) | b cp - web:/srv 2>/dev/null || bt_fail "cp - in, gzip"
expect_eq "$(b exec -T web cat /srv/file.txt)" "hello" "gzip stream in"

echo "== out of a stopped container"
expect_eq "$(b container inspect -f '{{.State.Status}}' demo-gone-1)" "exited" "gone has exited"
b cp gone:/out "$O/gone" 2>/dev/null || bt_fail "cp out of a stopped container: $(b cp gone:/out "$O/gone2" 2>&1)"
expect_eq "$(cat "$O/gone/sub/f.txt")" "left behind" "stopped container's file"
b cp "$H/file.txt" gone:/out/ 2>/dev/null || bt_fail "cp into a stopped container"
b cp gone:/out/file.txt "$O/from-stopped.txt" 2>/dev/null || bt_fail "read back"
expect_eq "$(cat "$O/from-stopped.txt")" "hello" "round trip through a stopped container"

echo "== a stopped container's volume is mounted for the copy"
b cp gone:/vol/vol.txt "$O/vol-from-stopped.txt" 2>/dev/null || bt_fail "cp out of a stopped volume"
expect_eq "$(cat "$O/vol-from-stopped.txt")" "hello" "the volume's file, from the stopped container"
b cp "$H/tree/run.sh" gone:/vol/ 2>/dev/null || bt_fail "cp into a stopped volume"
expect_eq "$(b exec -T peer cat /shared/run.sh)" "run" "written through the stopped container's volume"

out=$(b cp "$H/file.txt" gone:/ro/ 2>&1)
expect_eq "$?" 1 "a read-only volume of a stopped container"
expect_in "$out" "Read-only file system" "read-only volume message"
b cp gone:/ro/vol.txt "$O/ro.txt" 2>/dev/null || bt_fail "cp out of a read-only volume"
expect_eq "$(cat "$O/ro.txt")" "hello" "read through the read-only volume"

echo "== a container created and never started"
b --profile later create fresh >/dev/null 2>&1 || bt_fail "create fresh"
b --profile later cp "$H/file.txt" fresh:/srv/ 2>/dev/null || bt_fail "cp into a created container"
b --profile later cp fresh:/srv/file.txt "$O/fresh.txt" 2>/dev/null || bt_fail "cp out of it"
expect_eq "$(cat "$O/fresh.txt")" "hello" "round trip through a created container"
b --profile later rm -f fresh >/dev/null 2>&1 || bt_fail "rm fresh"

echo "== -L follows a symlink named by SRC, and only that one"
ln -s file.txt "$H/flink"
b cp "$H/flink" web:/tmp/ 2>/dev/null || bt_fail "cp a link"
expect_eq "$(b exec -T web readlink /tmp/flink)" "file.txt" "the link itself without -L"
b exec -T web rm /tmp/flink
b cp -L "$H/flink" web:/tmp/ 2>/dev/null || bt_fail "cp -L a link"
expect_eq "$(b exec -T web cat /tmp/flink)" "hello" "-L copies the target under the link's name"
b exec -T web test -L /tmp/flink && bt_fail "-L left a link"

echo "== to a service: every replica; --index picks one"
b cp "$H/file.txt" pair:/tmp/all.txt 2>/dev/null || bt_fail "cp to replicas"
expect_eq "$(b exec -T --index 1 pair cat /tmp/all.txt)" "hello" "replica 1"
expect_eq "$(b exec -T --index 2 pair cat /tmp/all.txt)" "hello" "replica 2"
b cp --index 2 "$H/file.txt" pair:/tmp/two.txt 2>/dev/null || bt_fail "cp --index 2"
b exec -T --index 1 pair test -e /tmp/two.txt && bt_fail "--index 2 copied to replica 1"
expect_eq "$(b exec -T --index 2 pair cat /tmp/two.txt)" "hello" "--index 2"
out=$(b cp --index 3 "$H/file.txt" pair:/tmp 2>&1)
expect_eq "$?" 1 "--index 3 exit code"
expect_in "$out" "no container #3" "--index 3 message"
echo data | b cp - pair:/tmp >/dev/null 2>&1 && bt_fail "plain text as a tar stream"
(cd "$H" && tar -cf - file.txt) | b cp - pair:/srv 2>/dev/null || bt_fail "stdin to two replicas"
expect_eq "$(b exec -T --index 2 pair cat /srv/file.txt)" "hello" "stdin reached replica 2"
b run -d --name demo-pair-extra pair sleep 300 >/dev/null 2>&1 || bt_fail "run a one-off"
b cp "$H/file.txt" pair:/tmp/plain.txt 2>/dev/null || bt_fail "cp without --all"
b container exec demo-pair-extra test -e /tmp/plain.txt && bt_fail "a one-off got a copy without --all"
b cp --all "$H/file.txt" pair:/tmp/with-all.txt 2>/dev/null || bt_fail "cp --all"
expect_eq "$(b container exec demo-pair-extra cat /tmp/with-all.txt)" "hello" "--all reaches one-offs"
b container rm -f demo-pair-extra >/dev/null || bt_fail "rm the one-off"
out=$(b cp --all pair:/tmp/all.txt "$O/x" 2>&1)
expect_eq "$?" 1 "--all from a service"

echo "== berth container cp by name and id prefix"
id=$(b container inspect -f '{{.Id}}' demo-web-1) || bt_fail "inspect"
b container cp "$H/file.txt" "${id:0:12}:/tmp/byid.txt" 2>"$O/msg" || bt_fail "container cp by id"
expect_in "$(cat "$O/msg")" "Successfully copied" "docker's message"
b container cp -q demo-web-1:/tmp/byid.txt "$O/byid.txt" 2>"$O/msg" || bt_fail "container cp out"
expect_eq "$(cat "$O/msg")" "" "-q prints nothing"
expect_eq "$(cat "$O/byid.txt")" "hello" "container cp out"

echo "== a container with its own user namespace: ids as it sees them"
U=$BERTH_TEST_TMP/uns
bash "$BERTH_SOURCE_DIR/tests/fixtures/busybox-rootfs.sh" "$U/rootfs" >/dev/null ||
    bt_fail "busybox rootfs"
chown -R 100000:100000 "$U/rootfs"
b runtime spec --rootless --bundle "$U" || bt_fail "runtime spec"
python3 - "$U" <<'PY' || bt_fail "userns config"
import json, sys
d = sys.argv[1]
spec = json.load(open(d + "/config.json"))
spec["process"]["terminal"] = False
spec["process"]["args"] = ["sleep", "300"]
for k in ("uidMappings", "gidMappings"):
    spec["linux"][k] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
json.dump({"name": "uns", "spec": spec, "rootfs": d + "/rootfs"}, open(d + "/uns.json", "w"))
PY
b container run -d --config "$U/uns.json" >/dev/null || bt_fail "run uns"
b container cp -q "$H/file.txt" uns:/tmp/ || bt_fail "cp into a userns container"
expect_eq "$(stat -c %u:%g "$U/rootfs/tmp/file.txt")" "100000:100000" "its root, on the host"
b container cp -q -a uns:/tmp/file.txt "$O/uns-a.txt" || bt_fail "cp -a out of it"
expect_eq "$(stat -c %u:%g "$O/uns-a.txt")" "0:0" "-a out: its own ids"
b container stop -t 1 uns >/dev/null || bt_fail "stop uns"
b container cp -q "$H/file.txt" uns:/tmp/stopped.txt || bt_fail "cp into it stopped"
expect_eq "$(stat -c %u:%g "$U/rootfs/tmp/stopped.txt")" "100000:100000" "mapped by hand when stopped"
b container cp -q -a uns:/tmp/stopped.txt "$O/uns-b.txt" || bt_fail "cp -a out of it stopped"
expect_eq "$(stat -c %u:%g "$O/uns-b.txt")" "0:0" "-a out of it stopped: its own ids"
b container rm uns >/dev/null || bt_fail "rm uns"

echo "== errors"
out=$(b cp web:/nope "$O/x" 2>&1)
expect_eq "$?" 1 "missing source exit code"
expect_in "$out" "No such container:path: demo-web-1:/nope" "missing source message"
out=$(b container cp demo-web-1:/nope "$O/x" 2>&1)
expect_eq "$?" 1 "container cp missing source exit code"
expect_in "$out" "No such container:path: demo-web-1:/nope" "container cp message"
out=$(b cp "$H/nope" web:/tmp 2>&1)
expect_eq "$?" 1 "missing host source exit code"
expect_in "$out" "No such file or directory" "missing host source message"
out=$(b cp "$H/tree" web:/tmp/file.txt 2>&1)
expect_eq "$?" 1 "dir onto a file exit code"
expect_in "$out" "cannot copy a directory to a file" "dir onto a file message"
b exec -T web mkdir -p /tmp/clash/file.txt
out=$(b cp "$H/file.txt" web:/tmp/clash/ 2>&1)
expect_eq "$?" 1 "file onto a dir exit code"
expect_in "$out" "cannot overwrite directory" "file onto a dir message"
out=$(b cp "$H/file.txt" web:/tmp/nodir/ 2>&1)
expect_eq "$?" 1 "missing dir exit code"
expect_in "$out" "no such directory" "missing dir message"
out=$(b cp "$H/file.txt" nosvc:/tmp 2>&1)
expect_eq "$?" 1 "unknown service exit code"
expect_in "$out" "no such service: nosvc" "unknown service message"
out=$(b container cp "$H/file.txt" nosuch:/tmp 2>&1)
expect_eq "$?" 1 "unknown container exit code"
out=$(b cp web:/a peer:/b 2>&1)
expect_eq "$?" 1 "between services exit code"
printf 'not a tar archive at all, just text' | b cp - web:/tmp >/dev/null 2>&1 &&
    bt_fail "garbage on stdin was accepted"
# an archive with '..' is refused on the host side
python3 - "$O/evil.tar" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    data = b"evil\n"
    i = tarfile.TarInfo("../../evil.txt")
    i.size = len(data)
    t.addfile(i, io.BytesIO(data))
PY
b cp - web:/tmp/esc <"$O/evil.tar" >/dev/null 2>&1 && bt_fail "an entry with .. was extracted"
[ ! -e "$BERTH_TEST_TMP/evil.txt" ] && [ ! -e /evil.txt ] || bt_fail "evil.txt escaped"

echo "== bash completion offers SERVICE: and files"
. "$BERTH_SOURCE_DIR/contrib/completion/berth.bash"
COMP_WORDS=("$BERTH_BIN" cp we)
COMP_CWORD=2
COMPREPLY=()
_berth
expect_in " ${COMPREPLY[*]} " " web: " "completion of berth cp"

echo "== nothing left behind"
mounts_now=$(cut -d' ' -f2 /proc/self/mounts | sort)
expect_eq "$mounts_now" "$mounts_before" "mounts after the copies"
expect_eq "$(state_files)" "$state_before" "files in berth's state after the copies"
b down -v -t 1 >/dev/null 2>&1 || bt_fail "down"
assert_nothing_left
echo "PASS"
