#!/usr/bin/env bash
# Secrets and configs without a cluster store: a missing file and an
# external secret fail up before any container starts; each kind of source
# (file, environment, inline content) is read at its target with the owner
# and mode asked for and cannot be written, nor is it in the writable layer;
# berth config shows them normalised; changing a secret file's content
# recreates the services that use it and only them; removing a container
# with the low-level `container rm` removes its materialised secrets; down
# leaves nothing under RUNROOT.
. "$(dirname "$0")/../lib/sandbox.sh"
bt_sandbox_enter "$0" "$@"
set -u
. "$BERTH_SOURCE_DIR/tests/e2e/up-lib.sh"
up_image

# The containers that have a materialised secrets directory.
secret_ids() {
    local d
    for d in "$BERTH_RUNROOT"/containers/*/secrets; do
        [ -d "$d" ] && basename "$(dirname "$d")"
    done | sort
}

echo "== a missing secret file fails up before any container starts"
up_project broken <<'YAML'
services:
  first:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    healthcheck: {disable: true}
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    healthcheck: {disable: true}
    secrets: [db_password]
secrets:
  db_password:
    file: ./missing.txt
YAML
if out=$(b up -d 2>&1); then bt_fail "up with a missing secret file succeeded: $out"; fi
echo "$out"
expect_in "$out" "secret 'db_password'" "names the secret"
expect_in "$out" "$P/missing.txt" "names the path"
expect_eq "$(b ps -a -q)" "" "no container"
expect_eq "$(ls "$BERTH_ROOT/containers" 2>/dev/null)" "" "no container dir"
assert_nothing_left "after the failed up"

echo "== an external secret is refused, naming the key"
cat >compose.yaml <<'YAML'
services:
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    secrets: [vault]
secrets:
  vault:
    external: true
YAML
if out=$(b up -d 2>&1); then bt_fail "up with an external secret succeeded: $out"; fi
expect_in "$out" "secrets.vault.external" "names the key"
expect_eq "$(b ps -a -q)" "" "no container"

up_project demo <<'YAML'
services:
  app:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    secrets:
      - db_password
      - source: api_key
        target: api
        uid: "1000"
        gid: "1001"
        mode: 0400
      - source: db_password
        target: /etc/pw-copy
        uid: "7"
        mode: 0440
    configs:
      - site_conf
      - source: app_conf
        target: /etc/app/app.conf
        gid: "50"
        mode: 0640
  web:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
    configs: [site_conf]
  plain:
    image: berth-test/busybox:latest
    command: [sleep, "300"]
    stop_grace_period: 1s
    healthcheck: {disable: true}
secrets:
  db_password:
    file: ./db_password.txt
  api_key:
    environment: API_KEY
configs:
  site_conf:
    content: "listen ${SITE_PORT:-80}"
  app_conf:
    file: ./app.conf
YAML
printf 's3cret-one' >db_password.txt
chmod 0600 db_password.txt
printf 'level=debug\n' >app.conf
printf 'API_KEY=k3y-from-env\nSITE_PORT=8081\n' >.env

echo "== berth config shows them normalised"
out=$(b config 2>&1) || bt_fail "config: $out"
echo "$out"
expect_in "$out" "file: $P/db_password.txt" "secret file made absolute"
expect_in "$out" "environment: API_KEY" "environment source"
expect_in "$out" "content: listen 8081" "content interpolated"
expect_in "$out" "name: demo_db_password" "secret name"
expect_in "$out" "mode: \"0400\"" "mode in octal"
expect_in "$out" "target: /etc/app/app.conf" "config target"

out=$(b up -d 2>&1) || bt_fail "up: $out"
app_id=$(b ps -q app)
web_id=$(b ps -q web)
plain_id=$(b ps -q plain)
[ -n "$app_id" ] && [ -n "$web_id" ] && [ -n "$plain_id" ] || bt_fail "containers: $(b ps -a)"

echo "== each kind is read at its target with its owner and mode"
x() { b exec -T app sh -c "$1" 2>&1; }
expect_eq "$(x 'cat /run/secrets/db_password')" "s3cret-one" "file secret, default target"
expect_eq "$(x 'cat /run/secrets/api')" "k3y-from-env" "environment secret, relative target"
expect_eq "$(x 'stat -c "%u %g %a" /run/secrets/api')" "1000 1001 400" "env secret owner and mode"
expect_eq "$(x 'cat /etc/pw-copy')" "s3cret-one" "file secret copied for its owner"
expect_eq "$(x 'stat -c "%u %g %a" /etc/pw-copy')" "7 0 440" "copied secret owner and mode"
expect_eq "$(x 'stat -c "%a" /run/secrets/db_password')" "600" "file bound as it is"
expect_eq "$(x 'cat /site_conf')" "listen 8081" "content config, default target"
expect_eq "$(x 'stat -c "%u %g %a" /site_conf')" "0 0 444" "content config default mode"
expect_eq "$(x 'cat /etc/app/app.conf')" "level=debug" "file config at its target"
expect_eq "$(x 'stat -c "%u %g %a" /etc/app/app.conf')" "0 50 640" "file config owner and mode"
expect_eq "$(b exec -T web cat /site_conf 2>&1)" "listen 8081" "another service's config"

echo "== a one-off container of the service gets them too, and they go with it"
out=$(b run --rm -T app sh -c 'cat /run/secrets/api; stat -c " %u %a" /run/secrets/api' 2>&1) ||
    bt_fail "run: $out"
expect_eq "$out" "k3y-from-env 1000 400" "run"
expect_eq "$(secret_ids)" "$(printf '%s\n' "$app_id" "$web_id" | sort)" \
    "only the services' containers have secrets dirs"

echo "== none can be written, even by root"
for f in /run/secrets/db_password /run/secrets/api /etc/pw-copy /site_conf /etc/app/app.conf; do
    if x "echo changed > $f"; then bt_fail "$f was writable"; fi
    if x "rm -f $f"; then bt_fail "$f could be removed"; fi
    x "cat $f" | grep -q changed && bt_fail "$f changed"
done
expect_eq "$(cat db_password.txt)" "s3cret-one" "the host file is untouched"

echo "== nothing of them is in the image or the writable layer"
left=$(grep -rl -e s3cret-one -e k3y-from-env -e "listen 8081" \
    "$BERTH_ROOT/containers" "$BERTH_ROOT/images" 2>/dev/null | grep -v -e '-json.log$' || true)
expect_eq "$left" "" "content under ROOT"
[ -d "$BERTH_RUNROOT/containers/$app_id/secrets" ] || bt_fail "no secrets dir for app"
[ ! -e "$BERTH_RUNROOT/containers/$plain_id/secrets" ] || bt_fail "a secrets dir for plain"

echo "== unchanged: every container kept"
out=$(b up -d 2>&1) || bt_fail "up: $out"
expect_eq "$(b ps -q app) $(b ps -q web) $(b ps -q plain)" "$app_id $web_id $plain_id" "kept"

echo "== a changed secret file recreates its users, and only them"
printf 's3cret-two' >db_password.txt
out=$(b up -d 2>&1) || bt_fail "up: $out"
echo "$out"
expect_in "$out" "Container demo-app-1  Recreate (secret or config content changed)" "reason"
new_app=$(b ps -q app)
[ "$new_app" != "$app_id" ] || bt_fail "app was not recreated"
expect_eq "$(b ps -q web) $(b ps -q plain)" "$web_id $plain_id" "web and plain kept"
expect_eq "$(x 'cat /run/secrets/db_password')" "s3cret-two" "the new content"
expect_eq "$(x 'cat /etc/pw-copy')" "s3cret-two" "the new copied content"
[ ! -e "$BERTH_RUNROOT/containers/$app_id/secrets" ] || bt_fail "the old container's secrets stayed"

echo "== a changed content config recreates both of its users"
printf 'API_KEY=k3y-from-env\nSITE_PORT=9090\n' >.env
out=$(b up -d 2>&1) || bt_fail "up: $out"
[ "$(b ps -q web)" != "$web_id" ] || bt_fail "web was not recreated"
[ "$(b ps -q app)" != "$new_app" ] || bt_fail "app was not recreated"
expect_eq "$(b ps -q plain)" "$plain_id" "plain kept"
expect_eq "$(b exec -T web cat /site_conf 2>&1)" "listen 9090" "the new config"

echo "== the low-level container rm removes a compose container's secrets"
web_now=$(b ps -q web)
[ -d "$BERTH_RUNROOT/containers/$web_now/secrets" ] || bt_fail "no secrets dir for web"
if out=$(b container rm "$web_now" 2>&1); then bt_fail "rm of a running container: $out"; fi
expect_in "$out" "stop the container before removing" "rm without -f refuses"
[ -d "$BERTH_RUNROOT/containers/$web_now/secrets" ] || bt_fail "the refused rm removed secrets"
out=$(b container rm -f "$web_now" 2>&1) || bt_fail "container rm: $out"
[ ! -e "$BERTH_RUNROOT/containers/$web_now" ] ||
    bt_fail "left after container rm: $(ls -AR "$BERTH_RUNROOT/containers/$web_now")"
expect_eq "$(secret_ids)" "$(b ps -q app)" "only app's secrets remain"

echo "== down leaves nothing under RUNROOT"
b down -t 1 >/dev/null 2>&1 || bt_fail "down"
left=$(secret_ids)
[ -z "$left" ] || bt_fail "secrets left for: $left"
[ ! -e "$BERTH_RUNROOT/secrets" ] || bt_fail "secrets left: $(ls -AR "$BERTH_RUNROOT/secrets")"
assert_nothing_left
echo PASS
