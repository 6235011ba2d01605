#!/usr/bin/env bash
# make demo: shows berth reading the quickstart project: the project as
# berth normalises it, its services, and their config hashes.
set -euo pipefail
berth=$(realpath "${1:-build/cli/berth}")
cd "$(dirname "$0")/quickstart"
"$berth" version
echo
echo "\$ berth config"
"$berth" config
echo
echo "\$ berth config --services"
"$berth" config --services
echo
echo "\$ berth config --hash '*'"
"$berth" config --hash '*'
