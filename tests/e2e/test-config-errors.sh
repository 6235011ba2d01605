#!/usr/bin/env bash
# berth config on bad input: one line naming file:line:col and the key path,
# exit 1; usage errors exit 2; nothing on standard output.
. "$(dirname "$0")/config-lib.sh"

mkdir "$tmp/p"
cd "$tmp/p"
case_() {
    printf '%b' "$1" >compose.yaml
    expect_error 1 "$2" config
}

case_ 'services:\n  web:\n    image: nginx\n    ports: ["80", "99999:80"]\n' \
    "berth: compose.yaml:4:19: services.web.ports[1]: invalid port '99999:80'"
case_ 'services:\n  web:\n    image: nginx\n    imag: nginx\n' \
    "berth: compose.yaml:4:5: services.web: additional property 'imag' is not allowed"
case_ 'services:\n  web: [\n' "berth: compose.yaml:3:1: "
case_ 'services:\n  web:\n    image: nginx\n    mem_limit: lots\n' \
    "berth: compose.yaml:4:16: services.web.mem_limit: invalid size 'lots'"
case_ 'services:\n  web:\n    image: nginx\n    stop_grace_period: 10\n' \
    "berth: compose.yaml:4:24: services.web.stop_grace_period:"
case_ 'services:\n  web:\n    image: nginx\n    healthcheck:\n      interval: 1x\n' \
    "berth: compose.yaml:5:17: services.web.healthcheck.interval: invalid duration '1x'"
case_ 'services:\n  web:\n    image: nginx\n    volumes: ["db:/data"]\n' \
    "berth: compose.yaml:4:15: services.web.volumes[0]: service 'web' refers to undefined volume 'db'"
case_ 'services:\n  web:\n    image: nginx\n    volumes: ["./x:relative"]\n' \
    "berth: compose.yaml:4:15: services.web.volumes[0]: invalid volume './x:relative': the container path 'relative' must be absolute"
case_ 'services:\n  web:\n    image: nginx\n    networks: [front]\n' \
    "berth: compose.yaml:4:16: services.web.networks[0]: service 'web' refers to undefined network 'front'"
case_ 'services:\n  web:\n    image: nginx\n    command: "sh -c '"'"'oops"\n' \
    "berth: compose.yaml:4:14: services.web.command: unterminated single quote"
case_ 'services:\n  web:\n    image: nginx\n    depends_on: [ghost]\n' \
    "berth: compose.yaml:4:18: services.web.depends_on: service 'web' depends on undefined service 'ghost'"
case_ 'services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    volumes_from: [c]\n  c:\n    image: x\n    network_mode: "service:a"\n' \
    "berth: dependency cycle between services: a -> b -> c -> a"
case_ 'services:\n  web:\n    image: nginx\n    depends_on: [db]\n  db:\n    image: pg\n    profiles: [db]\n' \
    "compose.yaml:4:18: services.web.depends_on: service \"web\" needs service \"db\""
case_ 'services:\n  web:\n    image: ${IMAGE:?set IMAGE to the image to run}\n' \
    "berth: compose.yaml:3:12: services.web.image: required variable IMAGE is missing a value: set IMAGE to the image to run"
case_ 'services:\n  web:\n    image: nginx\n    env_file: missing.env\n' \
    "berth: compose.yaml:4:15: services.web.env_file:"

# From another directory the file keeps its full name.
printf 'services:\n  web:\n    image: nginx\n    mem_limit: lots\n' >compose.yaml
mkdir sub
(cd sub && expect_error 1 "berth: $tmp/p/compose.yaml:4:16: services.web.mem_limit" -f ../compose.yaml config)

# A warning is not an error.
printf 'services:\n  web:\n    image: nginx:$TAG\n' >compose.yaml
run config >"$tmp/out" 2>"$tmp/err" || fail "unset variable is fatal"
grep -q 'The "TAG" variable is not set' "$tmp/err" || fail "no warning: $(cat "$tmp/err")"
grep -qx "    image: 'nginx:'" "$tmp/out" || fail "TAG not blank: $(cat "$tmp/out")"

# No file at all.
rm compose.yaml
expect_error 1 "no configuration file provided" config

# Usage errors: exit 2.
printf 'services:\n  web:\n    image: nginx\n' >compose.yaml
expect_error 2 "--format takes yaml or json" config --format xml
expect_error 2 "unknown option" config --bogus
expect_error 2 "exclude each other" config --services --volumes
expect_error 1 "no such service: nope" config nope
echo ok
