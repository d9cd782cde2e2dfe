"""DISFA (paper §4.1): 27 subjects filmed by two cameras, 1024x768 at 20 fps, spontaneous expressions with
per-frame AU intensities (0-5).

Layout (``--root``)::

    Video_RightCamera/RightVideoSN001_Comp.avi      (also Videos_RightCamera/, and ..._comp.avi)
    Video_LeftCamera/LeftVideoSN001_Comp.avi
    ActionUnit_Labels/SN001/SN001_au12.txt          one "frame,intensity" line per frame, 1-indexed
    ActionUnit_Labels/SN001/SN001_au6.txt

Each video holds many expressions: every smile (every N2S phase of the AU12/AU6 labels) becomes a sequence
(``PrepareConfig.disfa_segments = "first"`` keeps only the first).
Label files whose frame count differs from the video's by more than the tolerance are reported and the video
is skipped; smaller differences are cut to the common length.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

import numpy as np

from .items import Item, LayoutError, as_array, read_text, safe_key
from .splits import two_thirds_split

log = logging.getLogger(__name__)

NAME = "disfa"
FPS = 20.0  # §4.1
Camera = Literal["right", "left", "both"]
VIDEO_RE = re.compile(r"^(Right|Left)Video(SN\d+)_comp\.avi$", re.IGNORECASE)
EXPECTED = ("expected Video_RightCamera/RightVideoSN001_Comp.avi (or Videos_... folders, the left camera) and "
            "ActionUnit_Labels/SN001/SN001_au12.txt (the DISFA download)")


def _camera_dirs(root: Path) -> dict[str, Path]:
    out = {}
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        m = re.match(r"^Videos?_(Right|Left)Camera$", p.name, re.IGNORECASE)
        if m and p.is_dir():
            out.setdefault(m.group(1).lower(), p)
    return out


def read_au_file(path: Path) -> np.ndarray:
    """``frame,intensity`` lines (1-indexed, contiguous) -> (n,) float32; raises ValueError naming the bad line."""
    values: list[float] = []
    for i, line in enumerate(read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        parts = [p for p in re.split(r"[,\s]+", line.strip()) if p]
        try:
            frame, value = int(float(parts[0])), float(parts[1])
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path.name} line {i} is not 'frame,intensity'") from e
        if frame != len(values) + 1:
            raise ValueError(f"{path.name} line {i}: frame {frame}, expected {len(values) + 1}")
        values.append(value)
    return as_array(values)


def _labels_dir(root: Path) -> Path | None:
    for name in ("ActionUnit_Labels", "ActionUnit_labels", "actionunit_labels"):
        if (root / name).is_dir():
            return root / name
    return None


def discover(root: Path, *, camera: Camera = "right", segments: Literal["all", "first"] = "all", **_) -> list[Item]:
    cams = _camera_dirs(root)
    labels = _labels_dir(root)
    if not cams or labels is None:
        raise LayoutError(f"{root}: not a DISFA folder; {EXPECTED}")
    wanted = ("right", "left") if camera == "both" else (camera,)
    if not any(c in cams for c in wanted):
        raise LayoutError(f"{root}: no {camera} camera folder (Video_{camera.title()}Camera); {EXPECTED}")
    items = []
    for cam in wanted:
        if cam not in cams:
            continue
        for p in sorted(cams[cam].iterdir()):
            m = VIDEO_RE.match(p.name)
            if not m or m.group(1).lower() != cam:
                continue
            sn = m.group(2).upper()
            key = safe_key(NAME, p.stem)
            au_dir = labels / sn
            f12, f6 = au_dir / f"{sn}_au12.txt", au_dir / f"{sn}_au6.txt"
            problem, au12, au6 = None, None, None
            try:
                if not f12.is_file():
                    raise ValueError(f"no AU12 label file {f12}")
                au12 = read_au_file(f12)
                au6 = read_au_file(f6) if f6.is_file() else None
                if au6 is not None and len(au6) != len(au12):
                    raise ValueError(f"{f6.name} has {len(au6)} frames, {f12.name} {len(au12)}")
            except ValueError as e:
                problem = f"AU labels: {e}"
            items.append(Item(key=key, source=p, label="spontaneous", subject=sn, au12=au12, au6=au6,
                              au_source=str(f12), segments=segments, problem=problem))
    if not items:
        raise LayoutError(f"{root}: no RightVideoSN###_Comp.avi / LeftVideoSN###_Comp.avi videos; {EXPECTED}")
    return items


def splits(units: list[Item], *, seed: int, **_) -> tuple[np.ndarray, dict[str, np.ndarray], dict, list[str]]:
    out, disjoint = two_thirds_split([u.subject for u in units], seed)
    notes = [] if disjoint else ["only one subject: the split is by video, not subject-disjoint"]
    return out, {}, {"protocol": f"two thirds for training, seed {seed}", "subject_disjoint": disjoint}, notes
