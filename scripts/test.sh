#!/usr/bin/env bash
# Set up and run the test suite (the README's test command; .ci/run calls this).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
python3 -m ruff check src tests benchmarks
python3 -m pytest -q "$@"
