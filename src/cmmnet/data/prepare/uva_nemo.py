"""UvA-NEMO Smile (paper §4.1): 1240 videos, 1920x1080 at 50 fps, 400 subjects, neutral at start and end.

Layout (``--root``)::

    videos/NNN_deliberate_smile_K.mp4      posed (K is not contiguous)
    videos/NNN_spontaneous_smile_K.mp4     spontaneous
    UvA-NEMO_Smile_Database_File_Details.txt   a few header lines, then: filename, subject code, gender, age, label

The subject is the metadata's subject code (the file number NNN when the file is absent or lacks the video).
No AU labels ship: AU12/AU6 come from the landmark proxies. Splits: the paper's 10 subject-disjoint folds
(``--folds DIR`` with ``{1..10}/{train,test}.json``, or folds made from ``--seed``), ``--fold K`` is the test fold.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from .items import Item, LayoutError, read_text, safe_key
from .splits import TEST, TRAIN, read_folds, subject_folds

log = logging.getLogger(__name__)

NAME = "uva-nemo"
FPS = 50.0  # §4.1; recorded with the data (dataset.json extra.fps) and the weights trained on it
METADATA = "UvA-NEMO_Smile_Database_File_Details.txt"
N_FOLDS = 10
VIDEO_RE = re.compile(r"^(\d+)_(deliberate|spontaneous)_smile_(\d+)\.mp4$", re.IGNORECASE)
EXPECTED = (f"expected videos/NNN_{{deliberate,spontaneous}}_smile_K.mp4 and {METADATA} (the UvA-NEMO Smile "
            "download)")


def _label(word: str) -> str:
    return "posed" if word.lower() == "deliberate" else "spontaneous"


def read_metadata(path: Path) -> dict[str, tuple[str, str]]:
    """{video stem: (subject code, label word)} from the file-details table; header lines are skipped."""
    out: dict[str, tuple[str, str]] = {}
    for line in read_text(path).splitlines():
        fields = [f for f in re.split(r"[\t,;]+|\s{2,}| ", line.strip()) if f]
        if len(fields) < 2:
            continue
        name = fields[0] if fields[0].lower().endswith(".mp4") else fields[0] + ".mp4"
        if not VIDEO_RE.match(name):
            continue
        label = next((f for f in reversed(fields[1:]) if f.lower() in ("deliberate", "spontaneous", "posed")), "")
        out[Path(name).stem] = (fields[1], label)
    return out


def discover(root: Path, **_) -> list[Item]:
    vdir = root / "videos"
    if not vdir.is_dir():
        raise LayoutError(f"{root}: not a UvA-NEMO folder (no videos/); {EXPECTED}")
    videos = sorted(p for p in vdir.iterdir() if VIDEO_RE.match(p.name))
    if not videos:
        raise LayoutError(f"{vdir}: no NNN_{{deliberate,spontaneous}}_smile_K.mp4 videos; {EXPECTED}")
    meta_path = next((p for p in (root / METADATA, vdir / METADATA) if p.is_file()), None)
    meta = read_metadata(meta_path) if meta_path else {}
    if meta_path is None:
        log.warning("%s: %s not found; using the file number NNN as the subject", root, METADATA)
    items = []
    for p in videos:
        m = VIDEO_RE.match(p.name)
        assert m is not None
        label = _label(m.group(2))
        subject, meta_label = meta.get(p.stem, (m.group(1), ""))
        if meta_label and _label(meta_label) != label and meta_label.lower() != "posed":
            log.warning("%s: metadata says %r, the file name %r; using the file name", p.name, meta_label, label)
        items.append(Item(key=safe_key(p.stem), source=p, label=label, subject=subject))
    if meta and len(meta) != len(items):
        log.info("%s lists %d videos, %d found in videos/", METADATA, len(meta), len(items))
    return items


def splits(items: list[Item], *, seed: int, folds: Path | None = None, fold: int = 1, **_
           ) -> tuple[np.ndarray, dict[str, np.ndarray], dict, list[str]]:
    """(split per item with -1 = not in the fold lists, extra arrays, metadata, notes)."""
    if not 1 <= fold <= N_FOLDS:
        from ...errors import CmmnetError

        raise CmmnetError(f"--fold {fold}: UvA-NEMO has folds 1..{N_FOLDS}")
    notes: list[str] = []
    if folds is not None:
        table = read_folds(folds, fold)
        out = np.array([{"train": TRAIN, "test": TEST}.get(table.get(it.source.stem, ""), -1) for it in items],
                       dtype=np.int8)
        missing = int((out < 0).sum())
        if missing:
            notes.append(f"{missing} videos are in neither {folds / str(fold)}/train.json nor test.json: left out")
        return out, {}, {"folds": str(folds), "fold": fold, "protocol": "given folds"}, notes
    f = subject_folds([it.subject for it in items], N_FOLDS, seed)
    out = np.where(f == fold, TEST, TRAIN).astype(np.int8)
    return out, {"fold": f}, {"fold": fold, "protocol": f"{N_FOLDS} subject-disjoint folds from seed {seed}"}, notes
