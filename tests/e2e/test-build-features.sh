#!/usr/bin/env bash
# The rest of the Dockerfile builder through compose: ADD of a local tar
# (extracted) and refusal of URLs, COPY globs with --chown and --chmod,
# USER and SHELL for RUN, a --target stage, dockerfile_inline with
# labels and tags, pull_policy: build, up --no-build, and clear refusals
# of what berth does not build (remote contexts, build.ssh).
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project feat <<'YAML'
services:
  app:
    build:
      context: ./ctx
      target: final
    stop_grace_period: 1s
YAML
mkdir -p ctx/files/nested
echo one >ctx/files/a.conf
echo two >ctx/files/b.conf
echo skip >ctx/files/c.txt
mkdir -p tarsrc/pkg
echo "from the tarball" >tarsrc/pkg/data.txt
tar -C tarsrc -czf ctx/bundle.tar.gz pkg
cat >ctx/Dockerfile <<'DF'
FROM berth-test/busybox:latest AS final
SHELL ["/bin/sh", "-ec"]
ADD bundle.tar.gz /opt/
COPY --chown=1000:1000 --chmod=600 files/*.conf /etc/app/
RUN adduser -D -u 1234 builder 2>/dev/null || echo 'builder:x:1234:1234::/home/builder:/bin/sh' >> /etc/passwd
USER builder
RUN id -u > /tmp/uid
USER root
LABEL stage=final
CMD ["sh"]

FROM final AS extra
RUN echo "never built" > /extra
DF

echo "== build with --target, quietly"
out=$(b build -q 2>&1) || bt_fail "build -q failed: $(b build 2>&1)"
[ -z "$out" ] || bt_fail "build -q printed: $out"
out=$(b build 2>&1) || bt_fail "build failed: $out"
echo "$out"
expect_not_in "$out" "never built" "a stage after the target ran"
check=$(b run --rm app sh -c 'cat /opt/pkg/data.txt; ls /etc/app; stat -c "%u:%g %a" /etc/app/a.conf; cat /tmp/uid; test -e /extra && echo extra-present; true' 2>&1) ||
    bt_fail "run: $check"
echo "$check"
b down >/dev/null 2>&1 || bt_fail "down after run"
expect_in "$check" "from the tarball" "ADD extracted the tarball"
expect_in "$check" "a.conf" "glob a.conf"
expect_in "$check" "b.conf" "glob b.conf"
expect_not_in "$check" "c.txt" "glob excludes c.txt"
expect_in "$check" "1000:1000 600" "--chown and --chmod"
expect_in "$check" "1234" "RUN as USER builder"
expect_not_in "$check" "extra-present" "the stage after --target"

echo "== ADD of a URL is refused"
printf 'FROM berth-test/busybox:latest\nADD http://127.0.0.1:1/x /x\n' >ctx/Dockerfile
sed -i '/target: final/d' compose.yaml
if out=$(b build 2>&1); then bt_fail "ADD URL built"; fi
expect_in "$out" "sources from URLs are not supported" "ADD URL message"
expect_in "$out" "Dockerfile:2" "ADD URL line"

echo "== missing COPY source"
printf 'FROM berth-test/busybox:latest\nCOPY nothing-here /x\n' >ctx/Dockerfile
if out=$(b build 2>&1); then bt_fail "missing source built"; fi
expect_in "$out" "source 'nothing-here' not found" "missing source message"

echo "== dockerfile_inline, labels, tags, pull_policy: build"
cat >compose.yaml <<'YAML'
services:
  inline:
    image: feat/inline:v1
    pull_policy: build
    build:
      context: .
      dockerfile_inline: |
        FROM berth-test/busybox:latest
        RUN echo inline > /inline.txt
        CMD ["cat", "/inline.txt"]
      labels:
        org.example.built-by: berth
      tags: ["feat/inline:extra"]
    stop_grace_period: 1s
YAML
out=$(b up -d 2>&1) || bt_fail "up with pull_policy build: $out"
echo "$out"
expect_in "$out" "RUN echo inline" "pull_policy build builds"
b image ls | grep -q "feat/inline" || bt_fail "no feat/inline image"
b image inspect feat/inline:extra >/dev/null 2>&1 || bt_fail "extra tag missing"
lbl=$(b image inspect feat/inline:v1 | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Config"]["Labels"]["org.example.built-by"])')
expect_eq "$lbl" berth "build label"
wait_for 50 sh -c "'$BERTH_BIN' logs inline 2>&1 | grep -q inline" || bt_fail "inline output: $(b logs inline 2>&1)"
ps=$(b ps -a 2>&1)
expect_in "$ps" "feat/inline:v1" "ps shows the image"
b down >/dev/null 2>&1 || bt_fail "down"

echo "== up --no-build with a missing image"
cat >compose.yaml <<'YAML'
services:
  nobuild:
    build: ./ctx
YAML
printf 'FROM berth-test/busybox:latest\nCMD ["true"]\n' >ctx/Dockerfile
if out=$(b up -d --no-build 2>&1); then bt_fail "up --no-build started: $out"; fi
expect_in "$out" "--no-build" "no-build message"
if out=$(b up -d --build --no-build 2>&1); then bt_fail "--build --no-build accepted"; fi

echo "== berth image build, COPY of a directory without a trailing slash, TARGETARCH"
mkdir -p plain/conf.d
echo "conf" >plain/conf.d/x.conf
cat >plain/Build.df <<'DF'
FROM berth-test/busybox:latest
ARG TARGETARCH
COPY conf.d /etc/copied
COPY --from=berth-test/busybox:latest /etc/berth-test-release /from-image
RUN echo "arch=$TARGETARCH" > /arch && ls /etc/copied > /listing
RUN echo "host-lo=$(cat /sys/class/net/lo/flags)" > /net-host
RUN --network=none echo "none-lo=$(cat /sys/class/net/lo/flags)" > /net-none
DF
id=$(b image build -q -t feat/plain:1 -f plain/Build.df plain 2>&1) || bt_fail "image build: $id"
case "$id" in sha256:*) ;; *) bt_fail "image build -q printed '$id'" ;; esac
b image inspect feat/plain:1 >/dev/null 2>&1 || bt_fail "image build did not tag"
cat >compose.yaml <<'YAML'
services:
  plain:
    image: feat/plain:1
    pull_policy: never
YAML
out=$(b run --rm plain sh -c 'cat /arch /listing /from-image /net-host /net-none' 2>&1) || bt_fail "run plain: $out"
b down >/dev/null 2>&1 || bt_fail "down after run"
expect_in "$out" "arch=$(uname -m | sed 's/x86_64/amd64/;s/aarch64/arm64/')" "TARGETARCH"
expect_in "$out" "x.conf" "directory copied into /etc/copied"
expect_in "$out" "berth-test-image 1" "COPY --from an image"
expect_in "$out" "host-lo=0x9" "RUN in the host's network namespace (lo up)"
expect_in "$out" "none-lo=0x8" "RUN --network=none in a namespace of its own (lo down)"

echo "== config instructions"
mkdir -p meta
cat >meta/Dockerfile <<'DF'
FROM berth-test/busybox:latest
ENV PORT=8081
ENV LEGACY_FORM value with spaces
LABEL org.example.a="one two" org.example.port=$PORT
EXPOSE $PORT 53/udp
VOLUME ["/data", "/cache"]
STOPSIGNAL SIGQUIT
USER 1000:1000
HEALTHCHECK --interval=2s --timeout=1s --retries=4 CMD wget -q -O- http://127.0.0.1:$PORT/ || exit 1
ONBUILD RUN echo child
ENTRYPOINT ["/bin/sh", "-c"]
DF
b image build -q -t feat/meta:1 meta >/dev/null 2>&1 || bt_fail "meta build: $(b image build -t feat/meta:1 meta 2>&1)"
b image inspect feat/meta:1 | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]["Config"]
env = c["Env"]
assert "PORT=8081" in env and "LEGACY_FORM=value with spaces" in env, env
assert c["Labels"]["org.example.a"] == "one two" and c["Labels"]["org.example.port"] == "8081", c["Labels"]
assert {"8081/tcp", "53/udp"} <= set(c["ExposedPorts"]), c["ExposedPorts"]
assert {"/data", "/cache"} <= set(c["Volumes"]), c["Volumes"]
assert c["StopSignal"] == "SIGQUIT" and c["User"] == "1000:1000", c
hc = c["Healthcheck"]
assert hc["Test"] == ["CMD-SHELL", "wget -q -O- http://127.0.0.1:$PORT/ || exit 1"], hc
assert hc["Interval"] == 2000000000 and hc["Timeout"] == 1000000000 and hc["Retries"] == 4, hc
assert c["Entrypoint"] == ["/bin/sh", "-c"], c
assert not c.get("Cmd"), "ENTRYPOINT resets the base image CMD: %r" % c.get("Cmd")
assert c.get("OnBuild") == ["RUN echo child"], c.get("OnBuild")
' || bt_fail "config instructions: $(b image inspect feat/meta:1)"

echo "== a build stopped during RUN kills the step and cleans up"
printf 'FROM berth-test/busybox:latest\nRUN touch /started && sleep 60\n' >meta/Dockerfile
"$BERTH_BIN" image build -t feat/stopped:1 meta >"$BERTH_TEST_TMP/stopped.log" 2>&1 &
bpid=$!
wait_for 100 pgrep -x sleep || bt_fail "the RUN step did not start: $(cat "$BERTH_TEST_TMP/stopped.log")"
kill -TERM "$bpid"
for _ in $(seq 100); do kill -0 "$bpid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$bpid" 2>/dev/null && bt_fail "berth image build still runs after SIGTERM"
wait "$bpid" && bt_fail "a stopped build succeeded"
expect_in "$(cat "$BERTH_TEST_TMP/stopped.log")" "interrupted" "the reason"
pgrep -x sleep >/dev/null && bt_fail "the RUN step's process survived"
b image inspect feat/stopped:1 >/dev/null 2>&1 && bt_fail "a stopped build was tagged"
left=$(ls "$BERTH_ROOT/image/tmp")
[ -z "$left" ] || bt_fail "temporary directories left after SIGTERM: $left"

echo "== refusals"
cat >compose.yaml <<'YAML'
services:
  remote:
    build: https://example.invalid/repo.git
YAML
if out=$(b build 2>&1); then bt_fail "remote context built"; fi
expect_in "$out" "remote contexts" "remote context message"
cat >compose.yaml <<'YAML'
services:
  ssh:
    build:
      context: ./ctx
      ssh: [default]
YAML
if out=$(b build 2>&1); then bt_fail "build.ssh built"; fi
expect_in "$out" "build.ssh is not supported" "ssh message"
left=$(ls "$BERTH_ROOT/image/tmp")
[ -z "$left" ] || bt_fail "temporary directories left: $left"
assert_nothing_left "at the end"
echo PASS
