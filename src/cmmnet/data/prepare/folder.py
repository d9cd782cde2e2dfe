"""Any folder of smile videos (or folders of frames) with a ``labels.csv``.

Layout (``--root``)::

    labels.csv          file,label[,subject]   (a header row "file,label,..." is optional)
    clip1.mp4 ...       paths in the csv are relative to the root; a folder of JPEG/PNG frames also works

Labels are free-form (``posed``/``spontaneous`` keep the paper's order; otherwise sorted). The subject defaults
to the file name (every video its own subject). AU12/AU6 come from the landmark proxies; each video gives its
first N2S phase. Split: two thirds for training, seeded, subject-disjoint where possible.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from . import disfa
from .items import VIDEO_SUFFIXES, Item, LayoutError, image_files, read_text, safe_key

NAME = "folder"
FPS = None  # any rate: not recorded
EXPECTED = "expected ROOT/labels.csv with rows file,label[,subject] naming videos (or frame folders) under ROOT"


def discover(root: Path, **_) -> list[Item]:
    csv_path = root / "labels.csv"
    if not csv_path.is_file():
        raise LayoutError(f"{root}: no labels.csv; {EXPECTED}")
    rows = [r for r in csv.reader(io.StringIO(read_text(csv_path))) if r and any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["file", "label"]:
        rows = rows[1:]
    if not rows:
        raise LayoutError(f"{csv_path}: no rows; {EXPECTED}")
    items, seen = [], set()
    for i, row in enumerate(rows, 1):
        cells = [c.strip() for c in row]
        if len(cells) < 2 or not cells[0] or not cells[1]:
            raise LayoutError(f"{csv_path}: row {i} {row!r} is not file,label[,subject]; {EXPECTED}")
        rel = Path(cells[0])
        path = rel if rel.is_absolute() else root / rel
        key = safe_key(NAME, str(rel.with_suffix("")) if rel.suffix else str(rel))
        if key in seen:
            raise LayoutError(f"{csv_path}: {cells[0]} listed twice; list each video once")
        seen.add(key)
        subject = cells[2] if len(cells) > 2 and cells[2] else rel.stem
        problem, frames = None, None
        if path.is_dir():
            frames = image_files(path)
            if not frames:
                problem = "folder holds no JPEG/PNG frames"
        elif not path.is_file():
            problem = "file not found"
        elif path.suffix.lower() not in VIDEO_SUFFIXES:
            problem = f"not a video file ({', '.join(VIDEO_SUFFIXES)}) or a folder of frames"
        items.append(Item(key=key, source=path, label=cells[1], subject=subject, frames=frames, problem=problem))
    return items


def label_names(items: list[Item]) -> list[str]:
    found = sorted({it.label for it in items})
    if set(found) <= {"posed", "spontaneous"}:
        return ["posed", "spontaneous"]
    return found


def splits(units: list[Item], *, seed: int, **_) -> tuple[np.ndarray, dict[str, np.ndarray], dict, list[str]]:
    return disfa.splits(units, seed=seed)
