#!/usr/bin/env bash
# make demo: runs berth on the quickstart example.
set -euo pipefail
berth=${1:-build/cli/berth}
cd "$(dirname "$0")/.."
"$berth" version
