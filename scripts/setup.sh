#!/usr/bin/env bash
# Install cmmnet into the current Python environment.
# torch goes first and exactly: a looser spec would pull several GB of CUDA packages.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q torch==2.13.0
python3 -m pip install -q -e ".[test,app]"
