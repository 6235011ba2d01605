#!/usr/bin/env bash
# make bench: every benchmark, each comparing berth with its peers in one run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
"$here/config.sh" "${1:-build/cli/berth}"
