#!/usr/bin/env bash
# Which files, names, variables and profiles berth config reads: -f (several,
# and - for stdin), the override file, COMPOSE_FILE, -p, COMPOSE_PROJECT_NAME,
# name:, .env, --env-file, --project-directory, --profile, COMPOSE_PROFILES,
# --no-interpolate.
. "$(dirname "$0")/config-lib.sh"

mkdir -p "$tmp/My Project"
cd "$tmp/My Project"
cat >compose.yaml <<'YAML'
services:
  web:
    image: "nginx:${TAG:-stable}"
    ports: ["${PORT:-80}:80"]
  tools:
    image: busybox
    profiles: [debug]
YAML
cat >compose.override.yaml <<'YAML'
services:
  web:
    environment: [FROM_OVERRIDE=1]
YAML
cat >other.yaml <<'YAML'
services:
  web:
    image: httpd
  extra:
    image: redis
YAML

json() { run "$@" config --format json; }
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

# Discovery: compose.yaml plus its override; the name from the directory.
out=$(json)
[ "$(field 'd["name"]' <<<"$out")" = myproject ] || fail "name from directory: $out"
[ "$(field 'd["services"]["web"]["environment"]["FROM_OVERRIDE"]' <<<"$out")" = 1 ] ||
    fail "override not merged"
[ "$(field 'd["services"]["web"]["image"]' <<<"$out")" = nginx:stable ] || fail "default"

# -f replaces discovery; several -f merge in order.
out=$(json -f compose.yaml -f other.yaml)
[ "$(field 'd["services"]["web"]["image"]' <<<"$out")" = httpd ] || fail "-f order"
[ "$(field '"FROM_OVERRIDE" in d["services"]["web"].get("environment", {})' <<<"$out")" = False ] ||
    fail "override read despite -f"
[ "$(field 'sorted(d["services"])' <<<"$out")" = "['extra', 'web']" ] || fail "-f services"

# COMPOSE_FILE with ':' between files.
out=$(json COMPOSE_FILE=compose.yaml:other.yaml)
[ "$(field 'd["services"]["web"]["image"]' <<<"$out")" = httpd ] || fail "COMPOSE_FILE"

# - reads standard input.
out=$(printf 'services:\n  s:\n    image: from-stdin\n' | run -f - config --format json)
[ "$(field 'd["services"]["s"]["image"]' <<<"$out")" = from-stdin ] || fail "stdin"

# Project name: -p over COMPOSE_PROJECT_NAME over name: over the directory.
printf 'name: fromfile\n' >name.yaml
[ "$(json -f compose.yaml -f name.yaml | field 'd["name"]')" = fromfile ] || fail "name:"
[ "$(json COMPOSE_PROJECT_NAME=fromenv -f compose.yaml -f name.yaml | field 'd["name"]')" = fromenv ] ||
    fail "COMPOSE_PROJECT_NAME"
[ "$(json COMPOSE_PROJECT_NAME=fromenv -p fromflag | field 'd["name"]')" = fromflag ] || fail "-p"
[ "$(json -p fromflag | field 'd["networks"]["default"]["name"]')" = fromflag_default ] ||
    fail "network name follows the project name"
expect_error 1 "" -p "Bad Name" config

# .env, the process environment over it, --env-file instead of it.
printf 'TAG=1.25\nPORT=8080\n' >.env
out=$(json)
[ "$(field 'd["services"]["web"]["image"]' <<<"$out")" = nginx:1.25 ] || fail ".env"
[ "$(field 'd["services"]["web"]["ports"][0]["published"]' <<<"$out")" = 8080 ] || fail ".env port"
[ "$(json TAG=1.27 | field 'd["services"]["web"]["image"]')" = nginx:1.27 ] ||
    fail "environment over .env"
printf 'TAG=from-env-file\n' >alt.env
[ "$(json --env-file alt.env | field 'd["services"]["web"]["image"]')" = nginx:from-env-file ] ||
    fail "--env-file"

# --no-interpolate leaves the text alone.
printf 'services:\n  web:\n    image: "nginx:${TAG:-stable}"\n' >raw.yaml
[ "$(run -f raw.yaml config --no-interpolate --format json | field 'd["services"]["web"]["image"]')" = \
    'nginx:${TAG:-stable}' ] || fail "--no-interpolate"

# --project-directory: files, .env and relative paths from there.
cd "$tmp"
out=$(run --project-directory "My Project" config --format json)
[ "$(field 'd["services"]["web"]["image"]' <<<"$out")" = nginx:1.25 ] || fail "--project-directory"
cd "$tmp/My Project"

# Profiles: --profile, COMPOSE_PROFILES, '*'.
[ "$(run config --services | tr '\n' ' ')" = "web " ] || fail "profiles off"
[ "$(run --profile debug config --services | tr '\n' ' ')" = "tools web " ] || fail "--profile"
[ "$(run COMPOSE_PROFILES=debug config --services | tr '\n' ' ')" = "tools web " ] ||
    fail "COMPOSE_PROFILES"
[ "$(run --profile '*' config --services | tr '\n' ' ')" = "tools web " ] || fail "'*'"
# A service named on the command line is enabled whatever its profiles.
[ "$(run config tools --services | tr '\n' ' ')" = "tools " ] || fail "named service"
echo ok
