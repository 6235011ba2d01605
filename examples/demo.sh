#!/usr/bin/env bash
# make demo: the quickstart project, for real: makes its image offline,
# starts it with `berth up -d`, shows `berth ps`, fetches the page through
# the published port, and leaves the project running until `berth down`.
# If a step fails, what was started is removed again.
set -euo pipefail
berth=$(realpath "${1:-build/cli/berth}")
here=$(cd "$(dirname "$0")/quickstart" && pwd)
port=${WEB_PORT:-8080}
export WEB_PORT=$port
[ "$(id -u)" = 0 ] || { echo "make demo: run it as root (berth runs containers)" >&2; exit 1; }
cd "$here"

cleanup() {
    echo "make demo: something failed; removing what was started" >&2
    "$berth" down -v -t 2 >/dev/null 2>&1 || true
}
trap cleanup ERR INT TERM

say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

fetch() {
    local url=$1 i
    for i in $(seq 50); do
        if command -v curl >/dev/null; then
            curl -fsS --max-time 5 "$url" && return 0
        elif command -v wget >/dev/null; then
            timeout 5 wget -qO- "$url" && return 0
        else
            timeout 5 busybox wget -qO- "$url" && return 0
        fi
        sleep 0.2
    done
    return 1
}

"$berth" version
say "./make-image.sh"
./make-image.sh "$berth"
say "berth up -d"
"$berth" up -d
say "berth ps"
"$berth" ps
say "wget -qO- http://127.0.0.1:$port/"
fetch "http://127.0.0.1:$port/"
say "wget -qO- http://127.0.0.1:$port/data/now.txt"
fetch "http://127.0.0.1:$port/data/now.txt"
trap - ERR INT TERM
cat <<MSG

The quickstart project stays up until you stop it:
    cd $here && $berth down -v
MSG
