"""From a raw download to a dataset directory: discover, run the pipeline on every video, split, write."""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import numpy as np

from ...config import to_dict
from ...errors import CmmnetError, OutputError
from ...io import check_output
from ...limits import check_seed
from ..format import SPLIT_NAMES, write_dataset
from . import disfa, disfa_plus, folder, uva_nemo
from .items import PAPER_LABELS, Item
from .pipeline import PrepareConfig, cache_dir_for, run_items

log = logging.getLogger(__name__)

DATASETS: dict[str, ModuleType] = {
    uva_nemo.NAME: uva_nemo,
    disfa.NAME: disfa,
    disfa_plus.NAME: disfa_plus,
    folder.NAME: folder,
}


@dataclass
class PrepareSummary:
    out: Path
    videos: int
    sequences: int
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (video key, reason)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"prepared {self.sequences} sequences from {self.videos - len(self.skipped)} of {self.videos} "
                 f"videos -> {self.out}"]
        if self.skipped:
            lines.append(f"skipped {len(self.skipped)} videos:")
            lines += [f"  {key}: {reason}" for key, reason in self.skipped]
        lines += [f"note: {n}" for n in self.notes]
        return lines


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def prepare_dataset(dataset: str, root: str | Path, out: str | Path, cfg: PrepareConfig | None = None, *,
                    workers: int = 1, folds: Path | None = None, fold: int = 1, disfa_root: Path | None = None,
                    camera: disfa.Camera = "right") -> PrepareSummary:
    """Prepare ``dataset`` ("uva-nemo", "disfa", "disfa+", "folder") from ``root`` into the dataset dir ``out``."""
    cfg = cfg or PrepareConfig()
    if dataset not in DATASETS:
        raise CmmnetError(f"unknown dataset {dataset!r}; use one of {sorted(DATASETS)}")
    adapter = DATASETS[dataset]
    root, out = Path(root), Path(out)
    check_seed(cfg.seed, "seed")
    check_output(out)  # before the work
    if not root.is_dir():
        raise CmmnetError(f"--root {root}: not a folder; give the folder of the {dataset} download")
    if disfa_root is not None and dataset != "disfa+":
        raise CmmnetError("--disfa-root only goes with --dataset disfa+")
    if folds is not None and dataset != uva_nemo.NAME:
        raise CmmnetError("--folds only goes with --dataset uva-nemo (the others are split two thirds / one third)")
    items: list[Item] = adapter.discover(root, disfa_root=disfa_root, camera=camera,
                                         min_peak=cfg.segment.min_peak, tolerance=cfg.label_length_tolerance,
                                         segments=cfg.disfa_segments)
    items = sorted(items, key=lambda it: it.key)
    keys = [it.key for it in items]
    if len(set(keys)) != len(keys):
        raise CmmnetError(f"{root}: two videos map to the same name; rename one of them")
    log.info("%s: %d videos found in %s", dataset, len(items), root)
    cache = cache_dir_for(out)
    if cache.exists() and not (cache.is_dir() and not cache.is_symlink()):
        raise OutputError(f"{cache}: exists and is not prepare's cache folder; move it away")
    fresh_cache = not cache.exists()
    try:
        results = run_items(items, cfg, cache, workers)
        return _assemble(adapter, dataset, items, results, root, out, cfg, folds, fold)
    except CmmnetError:  # a user error: leave nothing behind (a killed run keeps its cache to resume)
        if fresh_cache:
            shutil.rmtree(cache, ignore_errors=True)
        raise


def _assemble(adapter: ModuleType, dataset: str, items: list[Item], results: dict, root: Path, out: Path,
              cfg: PrepareConfig, folds: Path | None, fold: int) -> PrepareSummary:
    """Split the prepared sequences and write the dataset directory ``out``."""
    skipped = [(it.key, results[it.key].reason) for it in items if results[it.key].status != "ok"]
    notes = [f"{it.key}: {n}" for it in items for n in results[it.key].notes]
    units: list[Item] = []  # one per sequence
    parts: dict[str, list[np.ndarray]] = {}
    seq_names: list[str] = []
    for it in items:
        res = results[it.key]
        if res.status != "ok":
            continue
        k = len(res.arrays["faces"])
        units += [it] * k
        seq_names += [it.key if k == 1 else f"{it.key}#{j}" for j in range(k)]
        for name, arr in res.arrays.items():
            parts.setdefault(name, []).append(arr)
    if not units:
        raise CmmnetError(f"{root}: no smile sequence could be prepared from {len(items)} videos "
                          f"({'; '.join(f'{k}: {r}' for k, r in skipped[:3])})")
    splits, extra_arrays, split_meta, split_notes = adapter.splits(units, seed=cfg.seed, folds=folds, fold=fold)
    notes += split_notes
    keep = splits >= 0
    if not (splits == SPLIT_NAMES.index("test")).any():
        notes.append("the test split is empty (too few subjects for this fold / split); choose another --fold")
    label_names = folder.label_names(items) if dataset == folder.NAME else list(PAPER_LABELS)
    subject_names = sorted({u.subject for u, k in zip(units, keep) if k})
    arrays = {name: np.concatenate(v)[keep] for name, v in parts.items()}
    kept = [u for u, k in zip(units, keep) if k]
    arrays["labels"] = np.array([label_names.index(u.label) for u in kept], dtype=np.int64)
    arrays["subjects"] = np.array([subject_names.index(u.subject) for u in kept], dtype=np.int64)
    arrays["styles"] = np.full(len(kept), -1, dtype=np.int64)
    arrays["splits"] = splits[keep].astype(np.int8)
    for name, v in extra_arrays.items():
        arrays[name] = np.asarray(v)[keep]
    extra = {
        "dataset": dataset,
        "fps": adapter.FPS,  # the source videos' frame rate: T frames span T / fps seconds
        "root": str(root),
        "prepare": to_dict(cfg),
        "draw": to_dict(cfg.draw),
        "split": split_meta,
        "sequence_names": [n for n, k in zip(seq_names, keep) if k],
        "videos": [_rel(u.source, root) for u in kept],
        "skipped": dict(skipped),
        "notes": notes,
    }
    write_dataset(out, arrays, source=dataset, label_names=label_names, subject_names=subject_names,
                  style_names=[], extra=extra, writer="prepare")
    return PrepareSummary(out, len(items), int(keep.sum()), skipped, notes)
