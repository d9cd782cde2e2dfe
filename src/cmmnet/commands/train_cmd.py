"""`cmmnet train --data DATASET --out RUN [--phases ...] [--preset NAME] [--set k=v ...] [--resume]`.

Trains the phases of §3.5 in order (vae, lstm, multimode, translation) into a run directory: resolved config,
git revision and command line, JSONL + TensorBoard metrics, progress bars, resumable checkpoints. Under
``torchrun --nproc_per_node=N`` it trains with DDP (gloo on CPU, NCCL on GPU).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import torch

from ..config import apply_overrides
from ..data.format import SmileDataset, load_dataset
from ..errors import CmmnetError
from ..limits import check_seed, path_arg
from ..runtime import seed_everything, set_deterministic
from ..training.distributed import cleanup_distributed, init_distributed
from ..training.experiment import CMMNET_PHASES, PHASES, PRESETS, ExperimentConfig
from ..training.run import Run, check_run_dir

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train CMM-Net (landmark generator phases and translation) into a run dir")
    p.add_argument("--data", type=path_arg, required=True, help="dataset directory (cmmnet synth / cmmnet prepare)")
    p.add_argument("--out", type=path_arg, required=True, help="run directory (created; never replaced)")
    p.add_argument("--phases", default=",".join(CMMNET_PHASES),
                   help=f"comma-separated phases, run in the order {','.join(PHASES)} "
                        f"(default: CMM-Net's own, {','.join(CMMNET_PHASES)}; the baselines are cranet, videogan)")
    p.add_argument("--preset", default="paper", choices=sorted(PRESETS), help="schedule/size preset (default paper)")
    p.add_argument("--set", dest="overrides", action="extend", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides, e.g. --set vae.lr=1e-4 run.precision=bf16")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoints")
    p.set_defaults(func=run)


def parse_phases(text: str) -> list[str]:
    asked = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in asked if s not in PHASES]
    if unknown or not asked:
        raise CmmnetError(f"--phases {text!r}: unknown phase(s) {unknown}; choose from {','.join(PHASES)}")
    return [p for p in PHASES if p in asked]


def resolve_config(data: SmileDataset, preset: str, overrides: list[str]) -> ExperimentConfig:
    """Defaults -> dataset facts (labels, image size, T, fps) -> preset -> the user's --set overrides."""
    facts = [f"landmark_generator.label_names={list(data.label_names)!r}".replace("'", '"'),
             f"landmark_generator.image_size={data.image_size}", f"landmark_generator.T={data.T}",
             f"translation.translator.image_size={data.image_size}", f"refinement.refiner.image_size={data.image_size}"]
    fps = data.meta.get("extra", {}).get("fps")  # recorded by `cmmnet prepare` for the paper's datasets
    if fps:
        facts.append(f"landmark_generator.fps={float(fps)}")
    cfg = apply_overrides(ExperimentConfig(), facts)
    cfg = apply_overrides(cfg, list(PRESETS[preset]))
    return apply_overrides(cfg, overrides)


def check_model_sizes(cfg: ExperimentConfig, phases: list[str]) -> None:
    """The networks that ``phases`` train (CMM-Net's, the baselines' and the warp renderer's R), as configured,
    built on the meta device: absurd sizes are refused before any allocation."""
    from ..models.cra_net import CRANet
    from ..models.io import check_model_size
    from ..models.landmark_generator import LandmarkGenerator
    from ..models.patch_discriminator import PatchDiscriminator
    from ..models.refiner import RefinerNet
    from ..models.unet import UNetGenerator
    from ..models.video_gan import VideoGANDiscriminator, VideoGANGenerator

    for key, model_cls, model_cfg, phase in (
            ("landmark_generator", LandmarkGenerator, cfg.landmark_generator, ("vae", "lstm", "multimode")),
            ("translation.translator", UNetGenerator, cfg.translation.translator, ("translation",)),
            ("translation.discriminator", PatchDiscriminator, cfg.translation.discriminator, ("translation",)),
            ("cranet.model", CRANet, cfg.cranet.model, ("cranet",)),
            ("cranet.discriminator", PatchDiscriminator, cfg.cranet.discriminator, ("cranet",)),
            ("videogan.model", VideoGANGenerator, cfg.videogan.model, ("videogan",)),
            ("videogan.model", VideoGANDiscriminator, cfg.videogan.model, ("videogan",)),
            ("refinement.refiner", RefinerNet, cfg.refinement.refiner, ("refinement",))):
        if set(phase) & set(phases):
            check_model_size(model_cls, model_cfg, f"--set {key}")


def train(data_dir: Path, out: Path, phases: list[str], preset: str = "paper", overrides: list[str] | None = None,
          resume: bool = False, argv: list[str] | None = None) -> ExperimentConfig:
    """The whole command as a function (also used by tests and benchmarks)."""
    if os.environ.get("RANK", "0") == "0":  # before anything else; under torchrun, once (rank 0 creates it)
        check_run_dir(Path(out), resume)
    data = load_dataset(data_dir)
    cfg = resolve_config(data, preset, list(overrides or []))
    check_seed(cfg.run.seed, "run.seed")
    check_model_sizes(cfg, phases)
    if cfg.run.num_threads > 0:
        torch.set_num_threads(cfg.run.num_threads)
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    set_deterministic(cfg.run.determinism == "deterministic")
    owns_group = not (torch.distributed.is_available() and torch.distributed.is_initialized())
    dist = init_distributed(cfg.run.device)  # joins the group a caller (cmmnet reproduce) may hold open
    if not dist.is_main:  # one copy of the log lines (rank 0 also writes RUN/train.log)
        logging.getLogger("cmmnet").setLevel(logging.WARNING)
    try:
        seed_everything(cfg.run.seed)
        run = Run(out, cfg, resume=resume, dist=dist, seed=cfg.run.seed, log_every=cfg.run.log_every,
                  argv=argv if argv is not None else sys.argv, precision=cfg.run.precision,
                  workers=cfg.run.workers)
        with run:
            for name in phases:
                log.info("phase %s", name)
                PHASES[name](cfg, data, run)
    finally:
        if owns_group:  # whoever joined the group leaves it: reinitialising it per call does not work under torchrun
            cleanup_distributed()
        set_deterministic(was_deterministic)
    return cfg


def run(args: argparse.Namespace) -> int:
    phases = parse_phases(args.phases)
    train(args.data, args.out, phases, args.preset, args.overrides, args.resume, argv=getattr(args, "argv", None))
    return 0
