#!/usr/bin/env bash
# Set up and run the main job: `cmmnet demo` on the bundled example photo (README's first command).
# Extra arguments go to `cmmnet demo`, e.g. `bash scripts/demo.sh --out /tmp/demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# the interpreter setup.sh installed into, even when pip's script directory is not on PATH
python3 -m cmmnet.cli demo "$@"
