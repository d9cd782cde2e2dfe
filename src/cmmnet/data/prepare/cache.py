"""The per-video cache of ``cmmnet prepare``: ``OUT.cache/<key>.npz``, one per video, written atomically.

An entry holds the video's sequences (or the reason it was skipped) and the fingerprint of everything that
produced it; it is reused only when the fingerprint matches.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ...config import to_dict
from ...io import atomic_path
from .items import Item

if TYPE_CHECKING:
    from .pipeline import PrepareConfig

CACHE_VERSION = 1


@dataclass
class ItemResult:
    key: str
    status: str  # "ok" | "skipped"
    reason: str = ""
    notes: list[str] = field(default_factory=list)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)  # per-sequence arrays, leading axis k


def fingerprint(item: Item, cfg: PrepareConfig) -> str:
    """What a cache entry must match: cache version, config (all but the split seed, which only changes the
    splits), source path and size, AU labels."""
    h = hashlib.sha256()
    per_video = {k: v for k, v in to_dict(cfg).items() if k != "seed"}
    h.update(json.dumps([CACHE_VERSION, per_video, str(item.source), item.segments, item.problem],
                        sort_keys=True).encode())
    paths = item.frames if item.frames is not None else (item.source,)
    for p in paths:
        try:
            h.update(f"{p.name}:{p.stat().st_size};".encode())
        except OSError:
            h.update(f"{p.name}:missing;".encode())
    for a in (item.au12, item.au6):
        h.update(b"-" if a is None else np.ascontiguousarray(a).tobytes())
    return h.hexdigest()


def save_result(path: Path, res: ItemResult, fp: str) -> None:
    meta = {"key": res.key, "status": res.status, "reason": res.reason, "notes": res.notes, "fingerprint": fp}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **res.arrays)


def load_result(path: Path, fp: str) -> ItemResult | None:
    """The cached result, or None when absent, damaged or made with another config / source."""
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if meta.get("fingerprint") != fp:
                return None
            arrays = {k: z[k] for k in z.files if k != "meta"}
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None
    return ItemResult(meta["key"], meta["status"], meta["reason"], list(meta["notes"]), arrays)
