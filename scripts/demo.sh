#!/usr/bin/env bash
# Set up and run the main job: `cmmnet demo` on the bundled example photo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmmnet demo "$@"
