"""What an augmentation run does: the photos of a folder tree, the share of them one shard takes, and where each
(photo, label, seed) item's outputs go. Nothing here imports torch."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import CmmnetError

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
VIDEOS_DIR = "videos"  # under --out: videos/<photo path without suffix>/<label>/seed_<n>/ (a `generate` output)
SKIPPED_FILE = "skipped.json"  # in videos/<photo path without suffix>/: why the photo gave no videos


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``: the photos whose position in the sorted list is ``index`` modulo ``count``."""

    index: int = 0
    count: int = 1

    def __post_init__(self):
        if not (self.count >= 1 and 0 <= self.index < self.count):
            raise CmmnetError(f"shard {self.index}/{self.count}: need 0 <= i < n (e.g. --shard 0/2 and --shard 1/2)")

    @property
    def name(self) -> str:
        return "" if self.count == 1 else f"-shard-{self.index}-of-{self.count}"

    def take(self, photos: list[Path]) -> list[Path]:
        return photos[self.index::self.count]


def parse_shard(text: str) -> Shard:
    """``"i/n"`` (a job array's task id and size) -> :class:`Shard`."""
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not m:
        raise CmmnetError(f"--shard {text!r}: expected i/n, e.g. --shard 0/4 (this is shard 0 of 4)")
    return Shard(int(m.group(1)), int(m.group(2)))


def shard_from_env(env: dict[str, str] | None = None) -> Shard:
    """The shard torchrun (and other launchers) describe with ``RANK`` and ``WORLD_SIZE``; one shard without them."""
    env = os.environ if env is None else env
    if "WORLD_SIZE" not in env:
        return Shard()
    try:
        return Shard(int(env.get("RANK", "0")), int(env["WORLD_SIZE"]))
    except ValueError as e:
        raise CmmnetError(f"RANK={env.get('RANK')!r} WORLD_SIZE={env['WORLD_SIZE']!r}: not integers") from e


def find_photos(root: Path) -> list[Path]:
    """Every photo file under ``root`` (by suffix, hidden folders left out), as sorted paths relative to ``root``."""
    if not root.is_dir():
        raise CmmnetError(f"--images {root}: not a directory; give the folder holding the photos")
    found = [p.relative_to(root) for p in root.rglob("*")
             if p.suffix.lower() in PHOTO_SUFFIXES and p.is_file()
             and not any(part.startswith(".") for part in p.relative_to(root).parts)]
    if not found:
        raise CmmnetError(f"--images {root}: no photos found ({', '.join(PHOTO_SUFFIXES)})")
    return sorted(found, key=lambda p: p.as_posix())


def photo_dir(out: Path, source: Path) -> Path:
    """Where the outputs of the photo at ``source`` (relative to --images) go: its path without the suffix, plus
    the suffix's letters, so ``a.jpg`` and ``a.png`` do not share a folder."""
    return out / VIDEOS_DIR / source.parent / f"{source.stem}_{source.suffix.lstrip('.').lower()}"


def item_dir(out: Path, source: Path, label: str, seed: int) -> Path:
    return photo_dir(out, source) / label / f"seed_{seed}"
