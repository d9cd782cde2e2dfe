"""`cmmnet reproduce --dry-run`: the plan with the disk it needs and a time per stage for this machine, from
costs measured here and now.

- prepare: one real video of each source is run through the preparation pipeline (decode, track, align; nothing
  is written) and its time is scaled by the number of videos over the workers.
- train: every phase runs for real at the chosen preset and run settings, one epoch, on two sizes of a synthetic
  set (the shipped example face with moving mouth corners, T frames of the dataset's size); the two times give a
  fixed cost and a cost per sequence and epoch, scaled to the dataset's training sequences and the preset's epochs.
- evaluate and study: the same, on the synthetic run's test split.

The synthetic set only stands in for the compute: its sequences cost what real ones of the same T and size cost.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .plan import TRAIN_PHASES, DatasetSpec, Plan
from .stages import BASELINES

log = logging.getLogger(__name__)

SIZES = (2, 8)  # training sequences of the two synthetic sets
TEST = (2, 4)  # test sequences evaluated at the two measurements


@dataclass(frozen=True)
class Linear:
    """seconds = fixed + per_item * items (fitted on two measured points)."""

    fixed: float
    per_item: float

    @classmethod
    def fit(cls, n: tuple[int, int], t: tuple[float, float]) -> Linear:
        per = max(0.0, (t[1] - t[0]) / (n[1] - n[0]))
        return cls(max(0.0, t[0] - per * n[0]), per)

    def __call__(self, items: float) -> float:
        return self.fixed + self.per_item * items


@dataclass(frozen=True)
class DatasetCounts:
    videos: int
    sequences: int  # expected sequences (DISFA: the smiles its AU labels show; otherwise one per video)
    train: int
    test: int
    per_video_s: float  # measured preparation time of one video (mean over the sources measured)


@dataclass(frozen=True)
class Costs:
    """Measured on this machine at one preset: per phase (seconds per epoch-sequence, fixed), evaluation
    (per test sequence, fixed), study kit, and the disk a run / an evaluated test video takes."""

    phases: dict[str, Linear]
    evaluate: Linear
    study_s: float
    run_bytes: int
    video_bytes: int
    flops: dict[str, float] = field(default_factory=dict)  # per phase, per epoch-sequence (count_flops only)


# ----------------------------------------------------------------------------------------------- synthetic set
def synthetic_dataset(path: Path, n_train: int, n_test: int, T: int = 32, size: int = 64, seed: int = 0) -> Path:
    """A dataset directory of ``n_train + n_test`` sequences: the shipped example face, aligned, with its
    landmarks' mouth corners moving out and up (a smile-like motion), alternating labels, one subject each."""
    from ..data.format import SPLIT_NAMES, write_dataset
    from ..data.prepare.items import PAPER_LABELS
    from ..faces import AlignConfig, FaceDetector, LandmarkDrawConfig, align_face, draw_landmarks, read_image

    image = read_image(Path(__file__).resolve().parents[1] / "assets" / "example.jpg")
    face = FaceDetector().detect(image, "example.jpg")
    aligned = align_face(image, face.landmarks, AlignConfig(size=size))
    rng = np.random.default_rng(seed)
    n = n_train + n_test
    ramp = np.clip(np.linspace(-0.2, 1.2, T), 0, 1)  # (T,)
    move = np.zeros((n, T, 68, 2), np.float32)
    amp = rng.uniform(0.5, 2.0, size=(n, 1)) * size / 64  # (n, 1) pixels
    move[:, :, 48, 0] -= amp * ramp
    move[:, :, 54, 0] += amp * ramp
    move[:, :, [48, 54], 1] -= (0.5 * amp * ramp)[..., None]
    landmarks = (aligned.landmarks[None, None] + move).astype(np.float32)  # (n, T, 68, 2)
    faces = np.broadcast_to(aligned.image.transpose(2, 0, 1), (n, T, 3, size, size)).copy()  # (n, T, 3, S, S)
    draw = LandmarkDrawConfig()
    images = np.stack([[draw_landmarks(p, size, draw) for p in seq] for seq in landmarks]).astype(np.uint8)
    splits = np.array([SPLIT_NAMES.index("train")] * n_train + [SPLIT_NAMES.index("test")] * n_test, np.int8)
    arrays = {"faces": faces, "landmarks": landmarks, "landmark_images": images,
              "labels": np.arange(n, dtype=np.int64) % 2, "subjects": np.arange(n, dtype=np.int64),
              "styles": np.full(n, -1, np.int64), "splits": splits}
    return write_dataset(path, arrays, source="synthetic timing set", label_names=list(PAPER_LABELS),
                         subject_names=[f"s{i}" for i in range(n)], extra={"synthetic": "timing only"})


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


def measure_costs(preset: str, overrides: list[str], device: str, work: Path, T: int = 32, size: int = 64,
                  phases: tuple[str, ...] = TRAIN_PHASES, evaluate: bool = True, count_flops: bool = False,
                  say: Callable[[str], None] = print) -> Costs:
    """Train every phase one epoch at two synthetic sizes (then evaluate and make a study kit) and time it; with
    ``count_flops`` also count each phase's floating-point operations (torch's FlopCounterMode; slower)."""
    import contextlib

    from torch.utils.flop_counter import FlopCounterMode

    from ..commands.train_cmd import train
    from ..data.format import load_dataset
    from ..evaluation.evaluate import EvaluateConfig, Evaluator
    from ..evaluation.methods import find_methods
    from ..study import make_study

    one_epoch = [f"{p}.epochs=1" for p in TRAIN_PHASES]
    times: dict[str, list[float]] = {p: [] for p in phases}
    flops: dict[str, list[float]] = {p: [] for p in phases}
    for n, n_test in zip(SIZES, TEST):
        data = synthetic_dataset(work / f"data{n}", n, n_test, T, size)
        run = work / f"run{n}"
        for p in phases:
            say(f"  measuring {p} on {n} synthetic sequences ...")
            counter = FlopCounterMode(display=False) if count_flops else None
            t0 = time.perf_counter()
            with counter or contextlib.nullcontext():
                train(data, run, [p], preset, [*overrides, *one_epoch], resume=True,
                      argv=["cmmnet", "reproduce", "--dry-run"])
            times[p].append(time.perf_counter() - t0)
            flops[p].append(float(counter.get_total_flops()) if counter else 0.0)
    costs = {p: Linear.fit(SIZES, (t[0], t[1])) for p, t in times.items()}
    per_flop = {p: Linear.fit(SIZES, (f[0], f[1])).per_item for p, f in flops.items()} if count_flops else {}
    if not evaluate:
        return Costs(costs, Linear(0.0, 0.0), 0.0, _dir_bytes(run), 0, per_flop)
    data = load_dataset(work / f"data{SIZES[-1]}")
    methods = find_methods(run, device)
    ev_times = []
    for m in TEST:
        say(f"  measuring evaluation of {m} test sequences ...")
        t0 = time.perf_counter()
        ev = Evaluator(data, EvaluateConfig(device=device, max_sequences=m), work / f"eval{m}" / "cache")
        ev.real()
        for meth in methods:
            ev.method(meth, work / f"eval{m}" / "videos")
        ev_times.append(time.perf_counter() - t0)
    videos = sorted((work / f"eval{TEST[-1]}" / "videos").glob("*/*/*.mp4"))
    dirs = sorted({v.parent.parent for v in videos})
    t0 = time.perf_counter()
    if len(dirs) >= 2:
        make_study(dirs[0], dirs[1], work / "study", pairs=37)
    study_s = time.perf_counter() - t0
    return Costs(costs, Linear.fit(TEST, (ev_times[0], ev_times[1])), study_s, _dir_bytes(run),
                 int(np.mean([v.stat().st_size for v in videos])) if videos else 0)


# ----------------------------------------------------------------------------------------------- datasets
def count_dataset(spec: DatasetSpec, test_fold: int, measure_video: bool = True) -> DatasetCounts:
    """Videos and expected sequences of a dataset download, and one video's preparation time per source."""
    from ..data.prepare import DATASETS, Item, PrepareConfig, process_item
    from ..data.prepare.segments import find_phases, smile_intensity
    from ..data.prepare.splits import read_folds
    from ..faces import FaceDetector

    cfg = PrepareConfig()
    items = DATASETS[spec.adapter].discover(spec.root, disfa_root=spec.disfa_root, min_peak=cfg.segment.min_peak,
                                            tolerance=cfg.label_length_tolerance, segments=cfg.disfa_segments)
    sequences = 0
    for it in items:
        if it.segments == "all" and it.au12 is not None:
            au6 = it.au6 if it.au6 is not None else np.zeros_like(it.au12)
            sequences += max(1, len(find_phases(smile_intensity(it.au12, au6, cfg.segment), cfg.segment)))
        else:
            sequences += 1
    if spec.folds is not None:
        table = read_folds(spec.folds, test_fold)
        test = sum(1 for it in items if table.get(it.source.stem) == "test")
        train = sum(1 for it in items if table.get(it.source.stem) == "train")
        scale = sequences / max(1, len(items))
        test, train = round(test * scale), round(train * scale)
    else:
        test = round(sequences / (10 if spec.name == "uva-nemo" else 3))
        train = sequences - test
    per_video = 0.0
    if measure_video:
        detector = FaceDetector()
        kinds: dict[bool, Item] = {}
        for it in items:  # one of each source: a video file (UvA-NEMO, DISFA) or a folder of frames (DISFA+)
            if it.problem is None:
                kinds.setdefault(it.frames is None, it)
        spent = []
        for it in kinds.values():
            t0 = time.perf_counter()
            process_item(it, cfg, detector)
            spent.append(time.perf_counter() - t0)
        per_video = float(np.mean(spent)) if spent else 0.0
    return DatasetCounts(len(items), sequences, train, max(1, test), per_video)


# ----------------------------------------------------------------------------------------------- the estimate
@dataclass(frozen=True)
class StageEstimate:
    stage: str
    seconds: float
    disk: int
    how: str


def estimate_plan(plan: Plan, counts: dict[str, DatasetCounts], costs: Costs) -> list[StageEstimate]:
    from ..config import apply_overrides
    from ..data.prepare.pipeline import PrepareConfig
    from ..evaluation.evaluate import EvaluateConfig
    from ..training.experiment import PRESETS, ExperimentConfig

    exp = apply_overrides(ExperimentConfig(), list(PRESETS[plan.config.preset]))
    s = PrepareConfig().align.size
    t = PrepareConfig().segment.T
    seq_bytes = t * (4 * s * s + 68 * 2 * 4 + 16)  # faces + landmark images + landmarks + per-frame AUs/indices
    out = []
    for stage in plan.stages:
        c = counts.get(str(stage.dataset))
        if stage.kind == "prepare":
            assert c is not None
            sec = c.per_video_s * c.videos / max(1, plan.config.workers)
            out.append(StageEstimate(stage.id, sec, 2 * c.sequences * seq_bytes,
                                     f"{c.videos} videos x {c.per_video_s:.1f} s (one measured) / "
                                     f"{plan.config.workers} worker(s); ~{c.sequences} sequences"))
        elif stage.kind == "train":
            assert c is not None
            epochs = getattr(exp, str(stage.phase)).epochs
            lin = costs.phases[str(stage.phase)]
            disk = costs.run_bytes // len(TRAIN_PHASES)
            out.append(StageEstimate(stage.id, lin.fixed + epochs * lin.per_item * c.train, disk,
                                     f"{epochs} epochs x {c.train} sequences x {lin.per_item * 1e3:.1f} ms "
                                     f"+ {lin.fixed:.1f} s"))
        elif stage.kind == "evaluate":
            assert c is not None
            methods = 1 + len(BASELINES)  # CMM-Net and the baselines
            n_videos = methods * min(c.test, 2 * EvaluateConfig().videos_per_label)
            out.append(StageEstimate(stage.id, costs.evaluate(c.test), n_videos * costs.video_bytes,
                                     f"{c.test} test sequences x {costs.evaluate.per_item:.1f} s "
                                     f"+ {costs.evaluate.fixed:.1f} s"))
        elif stage.kind == "study":
            pairs = 2 * 2 * min(plan.config.study_pairs, c.test if c else 0)
            out.append(StageEstimate(stage.id, costs.study_s, pairs * costs.video_bytes, "copies the test videos"))
        else:
            out.append(StageEstimate(stage.id, 0.5, 64 * 1024, "reads the results"))
    return out


def machine() -> str:
    import torch

    from ..sysinfo import cpu_model

    if torch.cuda.is_available():
        return f"GPU {torch.cuda.get_device_name(0)}"
    return f"CPU {cpu_model()}, {torch.get_num_threads()} torch threads"


def _fmt_time(s: float) -> str:
    if s < 90:
        return f"{s:.0f} s"
    if s < 5400:
        return f"{s / 60:.1f} min"
    return f"{s / 3600:.1f} h"


def _fmt_bytes(b: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if b < 1024 or unit == "GB":
            return f"{b:.0f} {unit}" if unit == "B" else f"{b:.1f} {unit}"
        b /= 1024
    return f"{b:.1f} TB"


def format_estimate(rows: list[StageEstimate]) -> list[str]:
    w = max(len(r.stage) for r in rows)
    lines = [f"{'stage':<{w}}  {'time':>9}  {'disk':>9}  how"]
    lines += [f"{r.stage:<{w}}  {_fmt_time(r.seconds):>9}  {_fmt_bytes(r.disk):>9}  {r.how}" for r in rows]
    lines.append(f"{'total':<{w}}  {_fmt_time(sum(r.seconds for r in rows)):>9}  "
                 f"{_fmt_bytes(sum(r.disk for r in rows)):>9}")
    return lines


def dry_run(plan: Plan, overrides: list[str], device: str, say: Callable[[str], None] = print
            ) -> list[StageEstimate]:
    """Measure this machine's costs and return the per-stage estimates (nothing is written to --out)."""
    counts = {}
    for d in plan.datasets:
        say(f"measuring the preparation of one {d.name} video ...")
        counts[d.name] = count_dataset(d, plan.config.test_fold)
    work = Path(tempfile.mkdtemp(prefix="cmmnet-dryrun-"))
    try:
        costs = measure_costs(plan.config.preset, overrides, device, work, say=say)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return estimate_plan(plan, counts, costs)
