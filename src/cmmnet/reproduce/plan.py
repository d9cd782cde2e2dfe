"""What `cmmnet reproduce` does, as a list of stages (paper §4): per dataset prepare -> train (CMM-Net's four
phases of §3.5, then the baselines CRA-Net and Video-GAN of §4.1) -> evaluate (§4.3) -> user-study kit (Table 2),
then one report over every dataset.

The datasets of §4.1 (each one optional):

- ``uva-nemo``: UvA-NEMO Smile, 50 fps, posed and spontaneous; 10 subject-disjoint folds, 1-9 train, 10 test
  (the published fold lists with ``--folds``, else seeded folds, which the report and console say plainly);
- ``disfa``: the paired DISFA / DISFA+ set, 20 fps: DISFA's spontaneous smiles and DISFA+'s posed smile trials of
  the same people, two thirds of the people for training. With only one of the two roots it holds one label.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from ..data.prepare import disfa, uva_nemo
from ..errors import CmmnetError
from ..training.experiment import BASELINE_PHASES, CMMNET_PHASES, PRESETS

Preset = Literal["paper", "cpu", "smoke"]
StageKind = Literal["prepare", "train", "evaluate", "study", "report"]


@dataclass(frozen=True)
class ReproduceConfig:
    """Settings of one reproduction; a rerun into the same --out must use the same ones."""

    preset: Preset = "paper"
    seed: int = 0  # folds / splits, training, generation, study pairs
    test_fold: int = 10  # UvA-NEMO: the 10th fold for test, 1-9 for training (§4.1)
    study_pairs: int = 37  # video pairs per comparison (§4.3, Table 2)
    workers: int = 1  # processes preparing videos in parallel
    device: str = "auto"  # auto | cpu | cuda | cuda:N (training and evaluation)


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset of the reproduction and how `cmmnet prepare` builds it."""

    name: Literal["uva-nemo", "disfa"]
    adapter: str  # prepare_dataset's dataset name
    root: Path
    fps: float  # frame rate of the source videos: T = 32 frames span 32 / fps seconds
    disfa_root: Path | None = None  # disfa+ adapter: DISFA's spontaneous smiles of the same people
    folds: Path | None = None  # uva-nemo: published fold lists {1..10}/{train,test}.json
    sources: tuple[str, ...] = ()  # what it is made of, for the report

    @property
    def protocol(self) -> str:
        if self.name == "uva-nemo":
            return ("the published 10-fold lists" if self.folds else
                    "SEEDED folds (no --folds given): not the published lists, so the numbers are not directly "
                    "comparable to the literature")
        return "two thirds of the people for training, one third for test (seeded, subject-disjoint)"


UVA_FPS = uva_nemo.FPS
DISFA_FPS = disfa.FPS  # DISFA+ ships frames without a rate and was recorded with DISFA's setup


def dataset_specs(uva_nemo: Path | None, disfa: Path | None, disfa_plus: Path | None,
                  folds: Path | None) -> list[DatasetSpec]:
    """The datasets given on the command line (at least one); CmmnetError naming the problem otherwise."""
    for flag, path in (("--uva-nemo", uva_nemo), ("--disfa", disfa), ("--disfa-plus", disfa_plus),
                       ("--folds", folds)):
        if path is not None and not Path(path).is_dir():
            raise CmmnetError(f"{flag} {path}: not a folder; give the folder of the download")
    if folds is not None and uva_nemo is None:
        raise CmmnetError("--folds is UvA-NEMO's fold lists: give --uva-nemo ROOT too, or leave --folds out")
    specs: list[DatasetSpec] = []
    if uva_nemo is not None:
        specs.append(DatasetSpec("uva-nemo", "uva-nemo", Path(uva_nemo), UVA_FPS, folds=folds and Path(folds),
                                 sources=("UvA-NEMO Smile",)))
    if disfa_plus is not None:
        sources = ("DISFA+ (posed)", "DISFA (spontaneous)") if disfa else ("DISFA+ (posed)",)
        specs.append(DatasetSpec("disfa", "disfa+", Path(disfa_plus), DISFA_FPS, disfa_root=disfa and Path(disfa),
                                 sources=sources))
    elif disfa is not None:
        specs.append(DatasetSpec("disfa", "disfa", Path(disfa), DISFA_FPS, sources=("DISFA (spontaneous)",)))
    if not specs:
        raise CmmnetError("no dataset given: add --uva-nemo ROOT and/or --disfa ROOT --disfa-plus ROOT")
    return specs


@dataclass(frozen=True)
class Stage:
    """One resumable step. ``id`` names its marker file; ``phase`` is the training phase of a train stage."""

    kind: StageKind
    dataset: str | None = None
    phase: str | None = None

    @property
    def id(self) -> str:
        return "/".join(p for p in (self.kind, self.dataset, self.phase) if p)


@dataclass(frozen=True)
class Plan:
    config: ReproduceConfig
    datasets: tuple[DatasetSpec, ...]
    out: Path
    inception: Path | None = None
    stages: tuple[Stage, ...] = field(default=())

    def dataset(self, name: str) -> DatasetSpec:
        return next(d for d in self.datasets if d.name == name)

    # where each stage writes (relative to --out; docs/reproduce.md lists them)
    def data_dir(self, name: str) -> Path:
        return self.out / "data" / name

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name

    def eval_dir(self, name: str) -> Path:
        return self.out / "evaluate" / name

    def study_dir(self, name: str) -> Path:
        return self.out / "study" / name

    @property
    def state_dir(self) -> Path:
        return self.out / "state"


TRAIN_PHASES = (*CMMNET_PHASES, *BASELINE_PHASES)


def build_plan(specs: list[DatasetSpec], out: Path, config: ReproduceConfig,
               inception: Path | None = None) -> Plan:
    """Every stage in order: per dataset prepare, the six training phases, evaluate, study; then the report."""
    if config.preset not in PRESETS:
        raise CmmnetError(f"--preset {config.preset}: choose one of {sorted(PRESETS)}")
    if inception is not None and not Path(inception).is_file():
        raise CmmnetError(f"--inception {inception}: file not found; give the Inception-v3 .safetensors "
                          "(scripts/convert_inception.py), or leave it out to skip the Inception Score")
    if not 1 <= config.test_fold <= 10:
        raise CmmnetError(f"test fold {config.test_fold}: UvA-NEMO has folds 1..10")
    stages: list[Stage] = []
    for d in specs:
        stages.append(Stage("prepare", d.name))
        stages += [Stage("train", d.name, p) for p in TRAIN_PHASES]
        stages += [Stage("evaluate", d.name), Stage("study", d.name)]
    stages.append(Stage("report"))
    return Plan(config, tuple(specs), Path(out), inception and Path(inception), tuple(stages))
