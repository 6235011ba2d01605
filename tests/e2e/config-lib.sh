# Sourced by tests/e2e/test-config-*.sh: `berth config` needs neither root
# nor a sandbox; these tests run the binary in a clean environment on copies
# of the fixtures and compare what a user sees.
set -euo pipefail

src=${BERTH_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
berth=${BERTH_BIN:-$src/build/cli/berth}
if [ ! -x "$berth" ]; then
    echo "SKIP: no berth binary at $berth" >&2
    exit 77
fi
fixtures=$src/tests/fixtures/compose/model
tmp=$(mktemp -d /tmp/berth-e2e-config.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# Runs berth with only PATH and HOME set, so the caller's variables cannot
# leak into interpolation; extra VAR=value words go first.
run() {
    local vars=()
    while [ $# -gt 0 ] && [[ $1 == *=* ]] && [[ $1 != -* ]]; do
        vars+=("$1")
        shift
    done
    env -i PATH="$PATH" HOME=/home/test "${vars[@]}" "$berth" "$@"
}

# expect_output NAME EXPECTED-FILE ACTUAL-FILE
expect_same() {
    if ! diff -u "$2" "$3" >&2; then
        fail "$1: output differs from $2"
    fi
}

# expect_error WANT-EXIT WANT-STDERR-SUBSTRING berth-args...
expect_error() {
    local want_rc=$1 want_msg=$2 rc=0
    shift 2
    run "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want_rc" ] || fail "berth $*: exit $rc, want $want_rc (stderr: $(cat "$tmp/err"))"
    grep -qF -- "$want_msg" "$tmp/err" ||
        fail "berth $*: stderr '$(cat "$tmp/err")' lacks '$want_msg'"
    [ ! -s "$tmp/out" ] || fail "berth $*: printed to stdout on error: $(cat "$tmp/out")"
}
