"""Resumable state of a reproduction: ``OUT/reproduce.json`` (the settings) and one marker per finished stage,
``OUT/state/<stage>.json``, written atomically after the stage's outputs are complete.

A rerun skips the stages whose marker is there and runs the others; every stage is idempotent (prepare reuses
its per-video cache, training resumes from its checkpoints and skips finished phases, evaluation reads its result
cache), so a run killed anywhere continues where it stopped and ends with the same outputs as an uninterrupted run.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..config import to_dict
from ..errors import CmmnetError
from ..io import atomic_write_text
from .plan import Plan, Stage

log = logging.getLogger(__name__)

SETTINGS = "reproduce.json"


def settings_of(plan: Plan) -> dict[str, Any]:
    """What must not change between a run and its resumption (paths as given, resolved)."""
    return {
        "config": to_dict(plan.config),
        "datasets": [{"name": d.name, "adapter": d.adapter, "root": str(d.root.resolve()), "fps": d.fps,
                      "disfa_root": d.disfa_root and str(d.disfa_root.resolve()),
                      "folds": d.folds and str(d.folds.resolve())} for d in plan.datasets],
        "inception": plan.inception and str(plan.inception.resolve()),
    }


def check_settings(plan: Plan) -> None:
    """Record the settings in a new --out; refuse a resumption with other settings (one line saying which)."""
    path = plan.out / SETTINGS
    want = json.loads(json.dumps(settings_of(plan)))
    while _rank() > 0 and not path.is_file():  # under torchrun rank 0 records them
        time.sleep(0.5)
    if path.is_file():
        try:
            have = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CmmnetError(f"{path}: damaged ({e}); delete it to start over, or choose another --out") from e
        if have != want:
            changed = [k for k in want if have.get(k) != want[k]]
            raise CmmnetError(f"{plan.out}: holds a reproduction with other settings ({', '.join(changed)} differ); "
                              "rerun with the same options to resume it, or choose another --out")
        return
    if plan.out.exists() and any(plan.out.iterdir()):
        raise CmmnetError(f"{plan.out}: exists and is not a reproduction directory; choose an empty or new --out")
    atomic_write_text(path, json.dumps(want, indent=2) + "\n")


def marker_path(plan: Plan, stage: Stage) -> Path:
    return plan.state_dir / f"{stage.id.replace('/', '__')}.json"


def read_marker(plan: Plan, stage: Stage) -> dict[str, Any] | None:
    """The finished stage's record, or None when it has not finished (a damaged marker counts as not finished)."""
    try:
        return json.loads(marker_path(plan, stage).read_text())
    except (OSError, json.JSONDecodeError):
        return None


def write_marker(plan: Plan, stage: Stage, record: dict[str, Any]) -> None:
    atomic_write_text(marker_path(plan, stage), json.dumps({"stage": stage.id, **record}, indent=2) + "\n")


StageFn = Callable[[Stage], dict[str, Any] | None]


def _rank() -> int:
    """This process's rank under ``torchrun`` (0 otherwise)."""
    return int(os.environ.get("RANK", "0")) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else 0


def _wait_for(plan: Plan, stage: Stage, poll: float) -> dict[str, Any]:
    while (rec := read_marker(plan, stage)) is None:
        time.sleep(poll)
    return rec


@contextlib.contextmanager
def process_group(device: str) -> Iterator[None]:
    """Under ``torchrun``, one process group for the whole reproduction (each training stage joins it; joining
    and leaving it per stage fails on the second rendezvous); nothing otherwise."""
    from ..training.distributed import cleanup_distributed, init_distributed

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield
        return
    init_distributed(device)
    try:
        yield
    finally:
        cleanup_distributed()


def run_stages(plan: Plan, execute: StageFn, say: Callable[[str], None] = print, poll: float = 2.0
               ) -> dict[str, float]:
    """Run every unfinished stage of ``plan`` in order with ``execute`` (which returns facts for the marker);
    returns the seconds each stage took (from its marker when it had finished before).

    Under ``torchrun`` every rank runs the training stages together (data-parallel); the other stages run on rank 0
    while the other ranks wait for their markers, and only rank 0 writes markers."""
    rank = _rank()
    seconds: dict[str, float] = {}
    n = len(plan.stages)
    for i, stage in enumerate(plan.stages, 1):
        done = read_marker(plan, stage)
        if done is not None:
            seconds[stage.id] = float(done.get("seconds", 0.0))
            say(f"[{i}/{n}] {stage.id}: done before, skipped")
            continue
        if rank > 0 and stage.kind != "train":
            seconds[stage.id] = float(_wait_for(plan, stage, poll).get("seconds", 0.0))
            continue
        say(f"[{i}/{n}] {stage.id} ...")
        t0 = time.perf_counter()
        facts = execute(stage) or {}
        dt = time.perf_counter() - t0
        if rank == 0:
            write_marker(plan, stage, {"seconds": round(dt, 3), **facts})
        seconds[stage.id] = dt
        say(f"[{i}/{n}] {stage.id}: done in {dt:.1f} s")
    return seconds


def write_timings(plan: Plan, seconds: dict[str, float]) -> None:
    """OUT/timings.json: seconds per stage on this machine (kept out of the report, which must not vary)."""
    from .estimate import machine

    if _rank() > 0:
        return
    rec = {"machine": machine(), "preset": plan.config.preset, "stages": {k: round(v, 2) for k, v in seconds.items()},
           "total": round(sum(seconds.values()), 2)}
    atomic_write_text(plan.out / "timings.json", json.dumps(rec, indent=2) + "\n")
