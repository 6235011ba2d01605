#!/usr/bin/env bash
# make demo: the quickstart project, for real: makes its image offline,
# starts it with `berth up -d`, shows `berth ps`, fetches the page through
# the published port, and leaves the project running until `berth down`.
# If a step fails or the demo is interrupted, what was started is removed
# again. WEB_PORT (default 8080) picks the published port.
#   examples/demo.sh [BERTH]    (as root)
set -euo pipefail
berth=${1:-build/cli/berth}
here=$(cd "$(dirname "$0")/quickstart" && pwd)
port=${WEB_PORT:-8080}
export WEB_PORT=$port
die() {
    echo "make demo: $*" >&2
    exit 1
}
[ "$(id -u)" = 0 ] || die "run it as root (berth runs containers)"
[ -x "$berth" ] || die "no berth program at '$berth' (make build makes it)"
berth=$(realpath "$berth")
case $port in '' | *[!0-9]*) die "WEB_PORT must be a port number, not '$port'" ;; esac
cd "$here"

started=0
cleanup() {
    local rc=$?
    trap - ERR INT TERM
    [ "$rc" = 0 ] && rc=1
    if [ "$started" = 1 ]; then
        echo "make demo: something failed; removing what was started" >&2
        "$berth" down -v -t 2 >/dev/null 2>&1 || true
    fi
    echo "make demo: failed (another port: WEB_PORT=8081 make demo)" >&2
    exit "$rc"
}
trap cleanup ERR INT TERM

# each step as the command a user would type, bold on a terminal
say() {
    if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
        printf '\n\033[1m$ %s\033[0m\n' "$*"
    else
        printf '\n$ %s\n' "$*"
    fi
}

# The page through the published port, never through a proxy, retried
# for a few seconds while the server comes up.
if command -v curl >/dev/null; then
    get=(curl -fsS --noproxy '*' --max-time 5) show="curl -fsS"
elif command -v wget >/dev/null; then
    get=(timeout 5 wget --no-proxy -qO-) show="wget -qO-"
else
    get=(timeout 5 busybox wget -Y off -qO-) show="busybox wget -qO-"
fi
fetch() {
    local i
    for i in $(seq 50); do
        "${get[@]}" "$1" && return 0
        sleep 0.2
    done
    return 1
}

"$berth" version
say "./make-image.sh"
./make-image.sh "$berth"
say "berth up -d"
started=1
"$berth" up -d
say "berth ps"
"$berth" ps
say "$show http://127.0.0.1:$port/"
fetch "http://127.0.0.1:$port/"
say "$show http://127.0.0.1:$port/data/now.txt"
fetch "http://127.0.0.1:$port/data/now.txt"
trap - ERR INT TERM
cat <<MSG

The quickstart project stays up until you stop it:
    cd $here && $berth down -v
MSG
