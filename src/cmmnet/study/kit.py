"""The user-study kit of paper §4.3 (Table 2): blinded A/B pairs of generated videos, and the preference tally.

:func:`make_study` pairs two methods' videos of the same test input (same relative path ``<label>/<name>.mp4``,
the layout `cmmnet evaluate` writes to ``REPORT/videos/<method>/``), draws ``pairs`` of them at random, puts the
two methods on the page's sides A / B at random per pair, copies the videos in under neutral names
(``videos/p001_1.mp4``), and writes ``index.html`` (:mod:`cmmnet.study.page`) and ``key.json`` (which method is
on which side; never shown to raters). :func:`tally` reads the key and answer files and counts, per label, how
often each method was preferred or the two rated similar.
"""

from __future__ import annotations

import json
import secrets
import shutil
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CmmnetError, InputFileError
from ..io import atomic_dir
from .page import CHOICES, render_page

KEY_FORMAT = "cmmnet-study-key"


def collect_videos(directory: Path) -> dict[str, Path]:
    """``{"<label>/<name>.mp4": path}`` for the videos under ``directory`` (one folder per label)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise InputFileError(f"{directory}: not a directory of videos; give REPORT/videos/<method> from "
                             "`cmmnet evaluate` (or a RUN with --data)")
    found = {p.relative_to(directory).as_posix(): p for p in sorted(directory.glob("*/*.mp4"))}
    if not found:
        raise InputFileError(f"{directory}: no videos found as <label>/<name>.mp4")
    return found


def make_study(a: Path, b: Path, out: Path, *, pairs: int = 37, seed: int = 0, name_a: str | None = None,
               name_b: str | None = None) -> dict[str, Any]:
    """Build the study directory ``out`` from video directories ``a`` and ``b``; returns the key."""
    va, vb = collect_videos(a), collect_videos(b)
    common = sorted(set(va) & set(vb))
    if not common:
        raise CmmnetError(f"{a} and {b} share no video (same <label>/<name>.mp4); generate both on the same dataset")
    if pairs < 1:
        raise CmmnetError(f"--pairs {pairs}: give at least 1")
    rng = np.random.default_rng(seed)
    chosen = [common[i] for i in rng.permutation(len(common))[:pairs]]
    study_id = secrets.token_hex(4)
    key: dict[str, Any] = {"format": KEY_FORMAT, "study": study_id, "seed": seed,
                           "a": {"name": name_a or Path(a).name, "source": str(a)},
                           "b": {"name": name_b or Path(b).name, "source": str(b)}, "pairs": []}
    page_pairs = []
    with atomic_dir(out) as tmp:
        (tmp / "videos").mkdir()
        for n, item in enumerate(chosen, 1):
            pid = f"p{n:03d}"
            a_first = bool(rng.integers(2))
            shown = (va[item], vb[item]) if a_first else (vb[item], va[item])
            names = []
            for side, src in enumerate(shown, 1):
                rel = f"videos/{pid}_{side}{src.suffix}"
                shutil.copyfile(src, tmp / rel)
                names.append(rel)
            page_pairs.append((pid, names[0], names[1]))
            key["pairs"].append({"pair": pid, "label": item.split("/")[0], "item": item,
                                 "A": "a" if a_first else "b", "B": "b" if a_first else "a"})
        (tmp / "index.html").write_text(render_page(study_id, page_pairs), encoding="utf-8")
        (tmp / "key.json").write_text(json.dumps(key, indent=2) + "\n", encoding="utf-8")
    return key


def _load(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise InputFileError(f"{path}: {what} not found") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputFileError(f"{path}: not a readable {what} ({e})") from e


def tally(key_path: Path, answer_paths: list[Path]) -> dict[str, Any]:
    """Count the answers: ``{"a": name, "b": name, "labels": {label: {"a": n, "b": n, "similar": n}}, ...}``."""
    key = _load(key_path, "study key")
    if not isinstance(key, dict) or key.get("format") != KEY_FORMAT:
        raise InputFileError(f"{key_path}: not a study key.json written by `cmmnet study make`")
    pairs = {p["pair"]: p for p in key["pairs"]}
    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"a": 0, "b": 0, "similar": 0})
    raters = 0
    for path in answer_paths:
        ans = _load(path, "answers file")
        got = ans.get("study") if isinstance(ans, dict) else None
        if got != key["study"]:
            raise InputFileError(f"{path}: answers of another study (id {got!r}, the key is {key['study']!r}); "
                                 "use the key.json of the page they came from")
        raters += 1
        for a in ans.get("answers", []):
            p = pairs.get(a.get("pair"))
            if p is None or a.get("choice") not in CHOICES:
                raise InputFileError(f"{path}: unknown pair or choice {a!r}")
            c = a["choice"]
            counts[p["label"]][p[c] if c in ("A", "B") else "similar"] += 1
    labels = {lb: dict(c) for lb, c in sorted(counts.items())}
    total = {k: sum(c[k] for c in labels.values()) for k in ("a", "b", "similar")}
    return {"a": key["a"]["name"], "b": key["b"]["name"], "raters": raters, "labels": labels, "total": total}


def format_table(t: dict[str, Any]) -> str:
    """Table 2 as text: percentage of preferences per label (columns) for method A, method B and similar (~)."""
    cols = [*t["labels"], "all"]
    data = {**t["labels"], "all": t["total"]}
    w = max(12, *(len(c) + 2 for c in cols))
    rows = [f"{'':<24}" + "".join(f"{c:>{w}}" for c in cols)]
    for k, name in (("a", t["a"]), ("b", t["b"]), ("similar", "~ (similar)")):
        cells = []
        for c in cols:
            n = sum(data[c].values())
            cells.append(f"{100.0 * data[c][k] / n:>{w - 1}.2f}%" if n else f"{'–':>{w}}")
        rows.append(f"{name[:23]:<24}" + "".join(cells))
    rows.append(f"{'ratings':<24}" + "".join(f"{sum(data[c].values()):>{w}}" for c in cols))
    return "\n".join(rows) + f"\n({t['raters']} answer file(s))"
