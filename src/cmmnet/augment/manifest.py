"""The manifest of an augmentation run: one row per video (source photo, label, mode, seed, the video file and its
SHA-256, the landmarks file and its row) and one row per skipped photo (with the reason), as JSON Lines and CSV.
Rows are built from what is on disk, sorted, so an interrupted and resumed run, or shards merged, give the same
manifest as one uninterrupted run."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from pathlib import Path

from ..errors import CmmnetError
from ..io import atomic_write_text

FIELDS = ("source", "label", "mode", "seed", "video", "sha256", "landmarks", "landmarks_sha256", "landmarks_row",
          "skipped")
MANIFEST = "manifest"  # manifest.jsonl / manifest.csv; a shard's: manifest-shard-I-of-N.jsonl / .csv


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def item_rows(out: Path, source: str, directory: Path, meta: dict) -> list[dict]:
    """The rows of one finished item: ``directory`` holds a ``cmmnet generate`` output described by ``meta``."""
    inputs = meta["inputs"]
    landmarks = directory / meta["files"]["landmarks"]
    lm_rel, lm_sha = landmarks.relative_to(out).as_posix(), file_sha256(landmarks)
    return [{"source": source, "label": inputs["label"], "mode": Path(name).stem, "seed": int(inputs["seed"]),
             "video": (directory / name).relative_to(out).as_posix(), "sha256": file_sha256(directory / name),
             "landmarks": lm_rel, "landmarks_sha256": lm_sha, "landmarks_row": row, "skipped": None}
            for row, name in enumerate(meta["files"]["videos"])]


def skipped_row(source: str, reason: str) -> dict:
    return {**dict.fromkeys(FIELDS), "source": source, "skipped": reason}


def _sort_key(row: dict) -> tuple:
    return row["source"], row["label"] or "", row["seed"] if row["seed"] is not None else -1, row["landmarks_row"] or 0


def write_manifest(out: Path, rows: list[dict], suffix: str = "") -> Path:
    """``out/manifest{suffix}.jsonl`` and ``.csv`` (written atomically, rows sorted); returns the JSONL path."""
    rows = sorted(rows, key=_sort_key)
    jsonl = out / f"{MANIFEST}{suffix}.jsonl"
    atomic_write_text(jsonl, "".join(json.dumps(r, sort_keys=False) + "\n" for r in rows))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)
    atomic_write_text(out / f"{MANIFEST}{suffix}.csv", buf.getvalue())
    return jsonl


def read_manifest(path: Path) -> list[dict]:
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except (OSError, json.JSONDecodeError) as e:
        raise CmmnetError(f"{path}: not a readable manifest ({e}); rerun that shard") from e


def merge_manifests(out: Path) -> tuple[Path, int]:
    """Join the shard manifests in ``out`` (all of ``manifest-shard-I-of-N.jsonl``, I = 0 .. N-1) into
    ``manifest.jsonl`` / ``.csv``; returns its path and the number of shards."""
    pattern = re.compile(rf"{MANIFEST}-shard-(\d+)-of-(\d+)\.jsonl")
    found = {tuple(int(g) for g in m.groups()): p for p in sorted(out.glob(f"{MANIFEST}-shard-*.jsonl"))
             if (m := pattern.fullmatch(p.name))}
    counts = {n for _, n in found}
    if not found:
        raise CmmnetError(f"--out {out}: no shard manifests (manifest-shard-I-of-N.jsonl) to merge; run the shards "
                          "first (--shard i/n or RANK/WORLD_SIZE)")
    if len(counts) > 1:
        raise CmmnetError(f"--out {out}: shard manifests of runs split {sorted(counts)} ways; remove the stale ones")
    n = counts.pop()
    missing = [i for i in range(n) if (i, n) not in found]
    if missing:
        raise CmmnetError(f"--out {out}: shard(s) {', '.join(f'{i}/{n}' for i in missing)} have no manifest yet; "
                          "run them, then --merge again")
    rows = [row for i in range(n) for row in read_manifest(found[(i, n)])]
    return write_manifest(out, rows), n
