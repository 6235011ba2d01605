#!/usr/bin/env bash
# berth build and up --build on a project whose service has a build
# section: ARG, ENV, RUN writing a file, RUN deleting a file of the base
# image (the whiteout hides it in the built image), COPY of a directory
# with .dockerignore exclusions, WORKDIR, CMD, a multi-stage COPY --from;
# a second build is all CACHED; a failing RUN names its exit code and
# leaves no image and no temporary directory; --build-arg reaches RUN;
# --no-cache rebuilds; down --rmi local removes the built image.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image
up_project demo <<'YAML'
services:
  app:
    build:
      context: ./app
      args:
        GREETING: hello-from-compose
    stop_grace_period: 1s
YAML
mkdir -p app/site/sub app/site/tmp
echo "page one" >app/site/index.html
echo "deep page" >app/site/sub/deep.html
echo "secret" >app/site/secret.key
echo "scratch" >app/site/tmp/junk.txt
echo "keep me" >app/site/tmp/keep.txt
printf '%s\n' '# build context exclusions' '**/*.key' 'site/tmp' '!site/tmp/keep.txt' >app/.dockerignore
cat >app/Dockerfile <<'DF'
# syntax=docker/dockerfile:1
ARG BASE=berth-test/busybox:latest
FROM ${BASE} AS builder
RUN echo "built in stage one" > /artifact.txt

FROM ${BASE}
ARG GREETING=default-greeting
ENV APP_HOME=/srv/app \
    MODE=${GREETING:-none}
RUN echo "$GREETING" > /greeting.txt && \
    rm /etc/berth-test-release
RUN rm -rf /srv/www && mkdir /srv/www && echo fresh > /srv/www/fresh.html
WORKDIR ${APP_HOME}
COPY site/ ./site/
COPY --from=builder /artifact.txt /srv/app/artifact.txt
CMD ["sh", "-c", "echo greeting=$(cat /greeting.txt) mode=$MODE; cat site/index.html site/sub/deep.html artifact.txt; ls site site/tmp; echo www: $(ls /srv/www); test -e /etc/berth-test-release && echo release-present || echo release-gone"]
DF

echo "== berth build"
out=$(b build 2>&1) || bt_fail "build failed: $out"
echo "$out"
expect_in "$out" "RUN echo \"built in stage one\"" "stage one step shown"
expect_in "$out" "Built demo-app" "built line"
b image ls | grep -q "demo-app" || bt_fail "image list lacks demo-app: $(b image ls)"
id1=$(b image inspect demo-app -f '{{.Id}}' 2>/dev/null || b image inspect demo-app | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Id"])')

echo "== the image's files and config"
cfg=$(b image inspect demo-app)
echo "$cfg" | python3 -c '
import json, sys
c = json.load(sys.stdin)[0]["Config"]
assert c["WorkingDir"] == "/srv/app", c
assert "MODE=hello-from-compose" in c["Env"], c["Env"]
assert "APP_HOME=/srv/app" in c["Env"], c["Env"]
assert c["Cmd"][0] == "sh", c
' || bt_fail "image config: $cfg"

echo "== second build: every step CACHED"
out=$(b build 2>&1) || bt_fail "second build failed: $out"
echo "$out"
for step in 'RUN echo "built in stage one"' 'RUN echo "$GREETING"' 'WORKDIR ${APP_HOME}' 'COPY site/ ./site/' 'COPY --from=builder'; do
    echo "$out" | grep -F "CACHED" | grep -qF "$step" || bt_fail "not CACHED: $step"
done

echo "== --no-cache runs every step again"
out=$(b build --no-cache 2>&1) || bt_fail "build --no-cache failed: $out"
expect_not_in "$out" "CACHED" "--no-cache"

echo "== up --build runs the built image"
out=$(b up --build -d 2>&1) || bt_fail "up --build failed: $out"
echo "$out"
expect_in "$out" "CACHED" "up --build reuses the cache"
wait_for 50 sh -c "'$BERTH_BIN' logs app 2>&1 | grep -q release-" || bt_fail "no output: $(b logs app 2>&1)"
logs=$(b logs --no-log-prefix app 2>&1)
echo "$logs"
expect_in "$logs" "greeting=hello-from-compose mode=hello-from-compose" "ARG and ENV"
expect_in "$logs" "page one" "COPY of the directory"
expect_in "$logs" "deep page" "COPY of a subdirectory"
expect_in "$logs" "built in stage one" "COPY --from the first stage"
expect_in "$logs" "keep.txt" "the .dockerignore exception"
expect_not_in "$logs" "secret.key" "**/*.key excluded"
expect_not_in "$logs" "junk.txt" "site/tmp excluded"
expect_in "$logs" "release-gone" "RUN rm hides the base image's file"
expect_in "$logs" "www: fresh.html" "a directory made again is opaque"
sleep 1 # a later build time must not make another image
out=$(b up --build -d 2>&1) || bt_fail "second up --build failed: $out"
expect_not_in "$out" "Recreate" "an all-cached build gives the same image: nothing to recreate"
b down --rmi local >/dev/null 2>&1 || bt_fail "down failed"
b image inspect demo-app >/dev/null 2>&1 && bt_fail "down --rmi local left the built image"

echo "== --build-arg reaches RUN; the cache sees the new value"
out=$(b build --build-arg GREETING=from-the-command-line 2>&1) || bt_fail "build --build-arg: $out"
echo "$out" | grep -F 'RUN echo "$GREETING"' | grep -q CACHED && bt_fail "RUN with a new arg was CACHED"
out=$(b run --rm app cat /greeting.txt 2>&1) || bt_fail "run: $out"
expect_in "$out" "from-the-command-line" "--build-arg value"
b down >/dev/null 2>&1 || bt_fail "down after run failed"

echo "== a failing RUN"
images_before=$(b image ls -q | sort)
cat >app/Dockerfile <<'DF'
FROM berth-test/busybox:latest
RUN echo "about to fail"; exit 3
CMD ["true"]
DF
cat >compose.yaml <<'YAML'
services:
  bad:
    build: ./app
    image: demo-bad:1
YAML
if out=$(b build 2>&1); then bt_fail "a failing RUN built: $out"; fi
echo "$out"
expect_in "$out" "exit code: 3" "the exit code"
expect_in "$out" "about to fail" "the step's output"
expect_in "$out" "Dockerfile:2" "the Dockerfile line"
b image ls | grep -q demo-bad && bt_fail "the failed build is tagged"
expect_eq "$(b image ls -q | sort)" "$images_before" "images after the failed build"
left=$(ls "$BERTH_ROOT/image/tmp")
[ -z "$left" ] || bt_fail "temporary directories left: $left"

echo "== unknown instruction"
printf 'FROM berth-test/busybox:latest\nFOO bar\n' >app/Dockerfile
if out=$(b build 2>&1); then bt_fail "unknown instruction built"; fi
expect_in "$out" "Dockerfile:2: unknown instruction FOO" "unknown instruction message"
assert_nothing_left "at the end"
echo PASS
