"""What a dataset adapter hands the pipeline: one :class:`Item` per video (or folder of frames)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from ...errors import CmmnetError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
PAPER_LABELS = ("posed", "spontaneous")


class LayoutError(CmmnetError):
    """The --root folder is not the layout of the named dataset."""


@dataclass(frozen=True)
class Item:
    key: str  # unique, file-name safe; names the cache entry and the sequence(s) in dataset.json
    source: Path  # a video file or a folder of frames
    label: str
    subject: str
    frames: tuple[Path, ...] | None = None  # frame files in order, for folders of frames
    # AU intensities from the dataset's own labels (0-5), 0-indexed by frame; None: use landmark proxies
    au12: np.ndarray | None = field(default=None, repr=False, compare=False)
    au6: np.ndarray | None = field(default=None, repr=False, compare=False)
    au_source: str = ""  # label file(s) the intensities came from (for messages)
    segments: Literal["first", "all"] = "first"  # the first N2S phase only, or every smile in the video
    problem: str | None = None  # found while discovering: the item is skipped with this reason


def safe_key(*parts: str) -> str:
    return "__".join(re.sub(r"[^A-Za-z0-9._+-]", "_", p) for p in parts)


def natural_key(p: Path) -> list:
    """Sort key that orders frame_2 before frame_10."""
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def image_files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()),
                        key=natural_key))


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise CmmnetError(f"{path}: cannot read ({e.strerror})") from e


def as_array(values: list[float]) -> np.ndarray:
    return np.asarray(values, dtype=np.float32)
