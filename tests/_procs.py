"""Test helper: run Python code in a subprocess and SIGKILL it once it has created a marker file."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path


def kill_at_marker(code: str, marker: Path, timeout: float, env: dict[str, str] | None = None) -> int:
    """Start ``python -c code``; when ``marker`` exists, SIGKILL it. Returns the exit code (-SIGKILL if killed)."""
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert proc.poll() is None, f"the subprocess exited before creating {marker.name}"
            assert time.monotonic() < deadline, f"the subprocess never created {marker.name}"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode
