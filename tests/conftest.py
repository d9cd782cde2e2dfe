from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CMMNET_SHARED", ROOT.parent / "shared"))
FRL_DIR = SHARED / "faces" / "frl-london"


@pytest.fixture(scope="session")
def frl_dir() -> Path:
    if not FRL_DIR.is_dir():
        pytest.fail(f"{FRL_DIR} is missing: tests need ../shared/faces/frl-london beside the checkout")
    return FRL_DIR


@pytest.fixture(autouse=True)
def _torch_threads():
    try:
        import torch

        torch.set_num_threads(min(2, os.cpu_count() or 1))
    except ImportError:  # pragma: no cover
        pass
    yield
