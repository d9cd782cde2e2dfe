#!/usr/bin/env bash
# Set up and run the test suite (the README's test command; .ci/run calls this).
# Extra arguments go to pytest, e.g. `bash scripts/test.sh tests/test_faces.py` or `bash scripts/test.sh -m slow`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# Debian's chromium for the browser tests of the study page and the web page (tests/test_study.py, test_app.py);
# a no-op when already installed.
if ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo -n"
  { $sudo apt-get install -y -q chromium || { $sudo apt-get update -q && $sudo apt-get install -y -q chromium; }; } \
    >/dev/null 2>&1 || echo "warning: could not install chromium; the browser tests are skipped" >&2
fi
lint_paths=(src tests scripts)
[ -d benchmarks ] && lint_paths+=(benchmarks)
python3 -m ruff check "${lint_paths[@]}"
python3 -m pytest -q "$@"
