"""DISFA+ (paper §4.1): posed facial actions of nine DISFA subjects, as JPEG frames with per-frame AU labels.

Layout (``--root``)::

    Images/SN001/A1_AU1_TrailNo_2/000.jpg ...        (some copies nest Images/SN001/SN001/<trial>/)
    Labels/SN001/A1_AU1_TrailNo_2/AU12.txt           two header lines, then "NNN.jpg <intensity>" per frame

The posed smiles are the trials whose AU12 label reaches ``min_peak`` (whatever the trial is called); each gives
its first N2S phase. ``--disfa-root`` adds DISFA's spontaneous smiles of the same subjects (the paper's paired
DISFA/DISFA+ set); without it the dataset holds posed smiles only.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Literal

import numpy as np

from . import disfa
from .items import Item, LayoutError, image_files, read_text, safe_key

log = logging.getLogger(__name__)

NAME = "disfa+"
FPS = disfa.FPS  # frames without a rate in the files; recorded with DISFA's setup
EXPECTED = ("expected Images/SN001/<trial>/NNN.jpg and Labels/SN001/<trial>/AU12.txt (the DISFA+ download; "
            "Images/SN001/SN001/<trial>/ is also accepted)")


def _subject_dirs(top: Path) -> dict[str, Path]:
    """{SN: folder holding the trial folders}, tolerating the nested <SN>/<SN> copies."""
    out = {}
    for p in sorted(top.iterdir()):
        if not p.is_dir():
            continue
        inner = p / p.name
        out[p.name.upper()] = inner if inner.is_dir() else p
    return out


def read_label_file(path: Path) -> dict[str, float]:
    """{frame file name: intensity} from an AU{n}.txt (two header lines, then "NNN.jpg <intensity>")."""
    out: dict[str, float] = {}
    lines = read_text(path).splitlines()
    for i, line in enumerate(lines[2:], 3):
        parts = line.split()
        if not parts:
            continue
        try:
            out[parts[0]] = float(parts[1])
        except (ValueError, IndexError) as e:
            raise ValueError(f"{path.name} line {i} is not 'NNN.jpg <intensity>'") from e
    return out


def _trial_item(sn: str, trial: Path, label_dir: Path, tolerance: int) -> Item | None:
    frames = image_files(trial)
    key = safe_key(NAME, sn, trial.name)
    f12, f6 = label_dir / "AU12.txt", label_dir / "AU6.txt"
    if not f12.is_file() or not frames:
        return None
    try:
        lab12 = read_label_file(f12)
        lab6 = read_label_file(f6) if f6.is_file() else None
    except ValueError as e:
        return Item(key=key, source=trial, label="posed", subject=sn, frames=frames, problem=f"AU labels: {e}")
    problem = None
    for f, lab in ((f12, lab12), (f6, lab6)):
        if lab is not None and abs(len(lab) - len(frames)) > tolerance:
            problem = f"label file of the wrong length: {f.name} has {len(lab)} frames, the folder {len(frames)} images"
    au12 = np.array([lab12.get(p.name, np.nan) for p in frames], dtype=np.float32)
    au6 = None if lab6 is None else np.array([lab6.get(p.name, np.nan) for p in frames], dtype=np.float32)
    if problem is None and np.isnan(au12).sum() > tolerance:
        problem = f"{f12.name} labels only {int((~np.isnan(au12)).sum())} of the folder's {len(frames)} images"
    return Item(key=key, source=trial, label="posed", subject=sn, frames=frames, au12=au12, au6=au6,
                au_source=str(f12), segments="first", problem=problem)


def discover(root: Path, *, disfa_root: Path | None = None, min_peak: float = 1.5, tolerance: int = 2,
             camera: disfa.Camera = "right", segments: Literal["all", "first"] = "all", **_) -> list[Item]:
    images, labels = root / "Images", root / "Labels"
    if not images.is_dir() or not labels.is_dir():
        raise LayoutError(f"{root}: not a DISFA+ folder; {EXPECTED}")
    img_subjects, lab_subjects = _subject_dirs(images), _subject_dirs(labels)
    items: list[Item] = []
    not_smiles = 0
    for sn, sdir in img_subjects.items():
        if sn not in lab_subjects:
            log.warning("%s: no Labels/%s folder; subject left out", sdir, sn)
            continue
        for trial in sorted(p for p in sdir.iterdir() if p.is_dir()):
            item = _trial_item(sn, trial, lab_subjects[sn] / trial.name, tolerance)
            if item is None:
                continue
            if item.problem is None and not (np.nanmax(item.au12, initial=0.0) >= min_peak):
                not_smiles += 1  # a trial posing other action units
                continue
            items.append(item)
    if not items and not_smiles == 0:
        raise LayoutError(f"{root}: no trial folders with frames and an AU12.txt; {EXPECTED}")
    log.info("DISFA+: %d trials with AU12 >= %.1f (posed smiles), %d other trials not used",
             len(items), min_peak, not_smiles)
    if disfa_root is not None:
        subjects = {it.subject for it in items}
        spont = [it for it in disfa.discover(disfa_root, camera=camera, segments=segments) if it.subject in subjects]
        log.info("DISFA (%s): %d videos of the %d DISFA+ subjects added (spontaneous)", disfa_root, len(spont),
                 len(subjects))
        items += spont
    return items


def splits(units: list[Item], *, seed: int, **_) -> tuple[np.ndarray, dict[str, np.ndarray], dict, list[str]]:
    return disfa.splits(units, seed=seed)


