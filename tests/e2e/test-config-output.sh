#!/usr/bin/env bash
# berth config: the canonical YAML and JSON of a project, byte for byte, and
# the listings (--services, --volumes, --networks, --profiles, --images,
# --hash), -q and -o.
# shellcheck source=tests/e2e/config-lib.sh
. "$(dirname "$0")/config-lib.sh"

cp -r "$fixtures/quickstart" "$tmp/shop"
cd "$tmp/shop"

run config >"$tmp/out.yaml" 2>"$tmp/err" || fail "config: $(cat "$tmp/err")"
sed "s|@DIR@|$tmp/shop|g" expected.yaml >"$tmp/want.yaml"
expect_same "config" "$tmp/want.yaml" "$tmp/out.yaml"
[ ! -s "$tmp/err" ] || fail "config warned: $(cat "$tmp/err")"

# `berth compose config` is `berth config`, global options on either side.
run compose config >"$tmp/compose.yaml" || fail "compose config"
cmp -s "$tmp/out.yaml" "$tmp/compose.yaml" || fail "berth compose config differs from berth config"
[ "$(run --profile jobs compose --ansi never config --profiles)" = jobs ] ||
    fail "global options around the compose word"

# Stable: the same input gives the same bytes.
run config >"$tmp/again.yaml"
cmp -s "$tmp/out.yaml" "$tmp/again.yaml" || fail "two runs differ"

# The output is a compose file that gives itself back.
mkdir "$tmp/rt"
cp "$tmp/out.yaml" "$tmp/rt/compose.yaml"
(cd "$tmp/rt" && run config) >"$tmp/rt.yaml" || fail "config of config output"
expect_same "round trip" "$tmp/out.yaml" "$tmp/rt.yaml"

run --profile jobs config --format json >"$tmp/out.json"
sed "s|@DIR@|$tmp/shop|g" expected-jobs.json >"$tmp/want.json"
expect_same "config --format json" "$tmp/want.json" "$tmp/out.json"

[ "$(run config --services)" = "$(printf 'api\nweb')" ] || fail "--services: $(run config --services)"
[ "$(run --profile '*' config --services)" = "$(printf 'api\nweb\nworker')" ] ||
    fail "--services with every profile"
[ "$(run config --volumes)" = cache ] || fail "--volumes"
[ "$(run config --networks)" = "$(printf 'backend\ndefault')" ] || fail "--networks"
[ "$(run config --profiles)" = jobs ] || fail "--profiles"
[ "$(run config --images)" = "$(printf 'shop-api\nnginx:1.25')" ] || fail "--images: $(run config --images)"
[ "$(run NGINX_TAG=1.27 config --images | tail -1)" = nginx:1.27 ] || fail "interpolation"

# SERVICE arguments keep those services and what they need.
[ "$(run config web --services)" = "$(printf 'api\nweb')" ] || fail "config web --services"
run config --format json api >"$tmp/api.json"
grep -q '"api"' "$tmp/api.json" || fail "config api lacks api"
! grep -q '"web"' "$tmp/api.json" || fail "config api shows web"

# --hash: one line per service, 64 hex digits, stable, and following what
# matters to the container only.
run config --hash '*' >"$tmp/hash"
[ "$(wc -l <"$tmp/hash")" = 2 ] || fail "--hash '*': $(cat "$tmp/hash")"
grep -Eq '^api [0-9a-f]{64}$' "$tmp/hash" || fail "--hash format: $(cat "$tmp/hash")"
web1=$(run config --hash web)
[ "$(run config --hash web)" = "$web1" ] || fail "hash not stable"
[ "$(run --profile jobs config --hash web)" = "$web1" ] || fail "hash depends on profiles"
[ "$(run WEB_PORT=8081 config --hash web)" != "$web1" ] || fail "hash ignores the port"
expect_error 1 "no such service: nope" config --hash web,nope

# -q validates and prints nothing; -o writes the file.
[ -z "$(run config -q)" ] || fail "-q printed"
run config -o "$tmp/written.yaml"
expect_same "-o" "$tmp/out.yaml" "$tmp/written.yaml"
echo "ok"
