"""The run directory and everything a phase writes into it (config, run history, log, metrics, TensorBoard),
run-level settings, progress bars and epoch summaries.

How a phase function is written (see :mod:`cmmnet.training.landmark` and :mod:`cmmnet.training.gan`)::

    def train_vae(model, data, cfg: VAEPhaseConfig, run: Run) -> None:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        ckpt = run.checkpointer("vae")                      # RUN/checkpoints/vae.safetensors
        start = ckpt.restore({"model": model}, {"opt": opt})  # epochs already done (0 on a fresh run)
        net = run.wrap(model)                               # DDP wrapper when world_size > 1, else model
        batches = EpochBatches(items, cfg.batch_size, run, "vae")
        loader = run.loader(dataset, batches)               # torch DataLoader, order = f(seed, phase, epoch)
        for epoch in run.epochs("vae", start, cfg.epochs):  # tqdm bar with ETA on rank 0
            batches.set_epoch(epoch)
            for batch in loader:
                loss = ...; opt.zero_grad(); loss.backward(); opt.step()
                run.log("vae", {"loss": loss.detach()})     # JSONL + TensorBoard, every run.log_every steps
            ckpt.save(epoch + 1, {"model": model}, {"opt": opt}, complete=epoch + 1 == cfg.epochs)

Rules: one phase = one function; it takes its own frozen phase config and a :class:`Run`; it restores from
``run.checkpointer(phase)`` first (``restore`` returns 0 unless ``--resume`` found a checkpoint) and saves after
every epoch; data order comes from :class:`~cmmnet.training.data.EpochBatches` (a function of seed, phase and
epoch only, so a resumed run sees the same batches); metrics are passed as tensors and read from the device only
at log steps; only rank 0 writes files; all ranks call ``ckpt.save`` (it synchronises).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, is_dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from ..config import from_dict, to_dict
from ..errors import CmmnetError
from ..io import atomic_write_text, check_output, claim_dir
from ..runtime import cpu_kind, emulated_bf16_warning
from ..sysinfo import cpu_model
from .checkpoints import Checkpointer
from .distributed import DistContext, all_reduce_mean, barrier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings shared by every phase (one section of the experiment config)."""

    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = torch.autocast: on bf16 hardware only (runtime.native_bf16)
    determinism: Literal["fast", "deterministic"] = "fast"  # deterministic: bitwise-reproducible CPU runs
    log_every: int = 10  # steps between JSONL/TensorBoard records
    num_threads: int = 0  # torch intra-op threads; 0 = torch's default
    workers: int = 0  # DataLoader worker processes per rank; 0 = load in the training process


def epoch_summary(sums: Mapping[str, torch.Tensor], n_batches: int) -> dict[str, float]:
    """Per-batch sums of one epoch's metrics (tensors, still on the device) -> their means, named ``epoch_<metric>``
    (one host sync)."""
    keys = list(sums)
    values = torch.stack([sums[k].float() for k in keys]).tolist() if keys else []
    return {f"epoch_{k}": v / max(1, n_batches) for k, v in zip(keys, values)}


def accumulate(sums: dict[str, torch.Tensor], metrics: Mapping[str, torch.Tensor]) -> None:
    """Add one step's metrics (detached tensors) to the epoch's running sums, without leaving the device."""
    for k, v in metrics.items():
        sums[k] = sums[k] + v if k in sums else v.detach().float()


def log_epoch(run: Run, phase: str, summary: dict[str, float], step: int, epoch: int, epochs: int) -> None:
    """Log an epoch's summary (JSONL/TensorBoard at ``step``, always written) and one log line."""
    run.log(phase, summary, step=step, force=True, epoch=epoch + 1)
    log.info("%s epoch %d/%d: %s", phase, epoch + 1, epochs, ", ".join(f"{k}={v:.4f}" for k, v in summary.items()))


def git_revision(cwd: Path | None = None) -> str:
    """``git describe``-like revision of the source tree ("unknown" outside a checkout; "+dirty" if modified)."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10)
        if rev.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=cwd,
                               capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def check_run_dir(out: Path, resume: bool) -> bool:
    """Whether ``out`` holds a run to resume; a new run's folder must pass the output rule (cmmnet.io.check_output),
    and a run is never replaced (CmmnetError)."""
    if not ((out / "config.json").is_file() or (out / "checkpoints").is_dir()):
        check_output(out)
        return False
    if not resume:
        raise CmmnetError(f"{out}: already holds a run; add --resume to continue it or choose another --out")
    return True


class Run:
    """A run directory and everything a phase writes into it.

    ``RUN/config.json`` (resolved experiment config), ``RUN/run.json`` (git revision, command line, host, torch,
    world size, start time; one entry per start, so resumes are recorded), ``RUN/train.log``,
    ``RUN/metrics.jsonl`` (one JSON object per logged step), ``RUN/tensorboard/``, ``RUN/checkpoints/``.
    """

    def __init__(self, out: str | Path, config: Any, *, resume: bool = False, dist: DistContext | None = None,
                 seed: int = 0, log_every: int = 10, argv: list[str] | None = None, tensorboard: bool = True,
                 precision: str = "fp32", workers: int = 0):
        self.dir = Path(out)
        self.precision = precision  # "fp32" or "bf16": phases wrap forward passes in ``autocast(device, precision)``
        self.cfg_dict = to_dict(config) if not isinstance(config, dict) else config
        self.resume = resume
        self.dist = dist or DistContext()
        self.seed = seed
        self.log_every = max(1, int(log_every))
        self.workers = max(0, int(workers))
        self._steps: dict[str, int] = {}
        self._tb = None
        self._metrics_f = None
        self._log_handler: logging.Handler | None = None
        cfg_path = self.dir / "config.json"
        if self.dist.is_main:
            if not check_run_dir(self.dir, resume):
                claim_dir(self.dir, "train")
            if resume and cfg_path.is_file():
                old = _as_resolved(json.loads(cfg_path.read_text()), config)
                if old != json.loads(json.dumps(self.cfg_dict)):
                    diff = sorted(_diff_keys(old, self.cfg_dict))
                    raise CmmnetError(f"{self.dir}: --resume with a different config (changed: {diff[:5]}); "
                                      "use the same --preset/--set or another --out")
            (self.dir / "checkpoints").mkdir(parents=True, exist_ok=True)
            atomic_write_text(cfg_path, json.dumps(self.cfg_dict, indent=2) + "\n")
            info_path = self.dir / "run.json"
            history = json.loads(info_path.read_text()) if (resume and info_path.is_file()) else []
            history.append({
                "started": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                "command": shlex.join(argv if argv is not None else sys.argv),
                "git_revision": git_revision(),
                "resume": resume,
                "host": socket.gethostname(),
                "python": sys.version.split()[0],
                "torch": torch.__version__,
                "world_size": self.dist.world_size,
                "device": str(self.dist.device),
                "cpu": {"model": cpu_model(), "kind": list(cpu_kind())},  # bytes repeat on CPUs of one kind
                "precision": precision,
            })
            atomic_write_text(info_path, json.dumps(history, indent=2) + "\n")
            self._log_handler = logging.FileHandler(self.dir / "train.log")
            self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logging.getLogger("cmmnet").addHandler(self._log_handler)
            if logging.getLogger("cmmnet").getEffectiveLevel() > logging.INFO:
                logging.getLogger("cmmnet").setLevel(logging.INFO)
            self._metrics_f = open(self.dir / "metrics.jsonl", "a", encoding="utf-8")  # noqa: SIM115
            if tensorboard:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(self.dir / "tensorboard"))
        if self.dist.is_main and (warning := emulated_bf16_warning(precision, self.dist.device)):
            log.warning(warning)
        barrier(self.dist)

    # -- pieces a phase uses
    def checkpointer(self, phase: str) -> Checkpointer:
        return Checkpointer(self, phase)

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """DDP-wrap a model when running distributed (gradients averaged over ranks); otherwise return it."""
        if not self.dist.distributed:
            return model
        ids = [self.dist.device.index] if self.dist.device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(model, device_ids=ids)

    def loader(self, dataset: Dataset, batches: Sampler) -> DataLoader:
        """A DataLoader whose ``batches`` sampler yields one whole batch's keys at a time (``dataset[key]`` is the
        batch), so the order stays the sampler's; ``run.workers`` processes, pinned memory on CUDA. It draws from its
        own generator, so the models' random draws (VAE sampling) are those of a loop without a DataLoader."""
        own = torch.Generator().manual_seed(self.seed)  # the loader's worker seeds; the global RNG stays untouched
        return DataLoader(dataset, batch_size=None, sampler=batches, num_workers=self.workers, generator=own,
                          pin_memory=self.dist.device.type == "cuda", persistent_workers=self.workers > 0)

    def epochs(self, phase: str, start: int, total: int) -> Iterator[int]:
        """Epoch numbers ``start .. total-1`` with a progress bar (ETA) on rank 0."""
        yield from progress(range(start, total), desc=phase, total=total, initial=start, unit="epoch",
                            disable=not self.dist.is_main)

    def log(self, phase: str, metrics: Mapping[str, torch.Tensor | float], step: int | None = None,
            force: bool = False, **fields: Any) -> None:
        """Count a step of ``phase``; every ``log_every`` steps (or ``force``) write metrics to JSONL + TensorBoard.

        ``metrics`` may be tensors on the training device: they are read (one host sync) only at logged steps."""
        s = self._steps.get(phase, 0) + 1 if step is None else step
        self._steps[phase] = s
        if (not force and s % self.log_every) or not metrics:
            return
        keys = list(metrics)
        values = torch.stack([torch.as_tensor(metrics[k]).detach().to(self.dist.device, torch.float64) for k in keys])
        values = dict(zip(keys, all_reduce_mean(values, self.dist).tolist()))
        if not self.dist.is_main:
            return
        rec = {"time": round(_dt.datetime.now().timestamp(), 3), "phase": phase, "step": s, **fields, **values}
        assert self._metrics_f is not None
        self._metrics_f.write(json.dumps(rec) + "\n")
        self._metrics_f.flush()
        if self._tb is not None:
            for k, v in values.items():
                self._tb.add_scalar(f"{phase}/{k}", v, s)

    def set_step(self, phase: str, step: int) -> None:
        """Continue step numbering after a resume (steps per epoch x epochs done)."""
        self._steps[phase] = step

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
        if self._metrics_f is not None:
            self._metrics_f.close()
            self._metrics_f = None
        if self._log_handler is not None:
            logging.getLogger("cmmnet").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _as_resolved(stored: dict[str, Any], config: Any) -> dict[str, Any]:
    """A run's stored config as the current code resolves it: keys it lacks (fields added since it was written)
    take their declared defaults, which keep the behaviour it was trained with, so such a run still resumes."""
    if not is_dataclass(config):
        return stored
    try:
        return json.loads(json.dumps(to_dict(from_dict(type(config), stored))))
    except CmmnetError:  # a key the code no longer knows: compared as stored, so the difference is named
        return stored


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for k in set(a) | set(b):
            out |= _diff_keys(a.get(k), b.get(k), f"{prefix}{k}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}


def progress(iterable: Iterable[Any], desc: str, total: int | None = None, disable: bool = False,
             **kw: Any) -> Iterator[Any]:
    """A tqdm bar on stderr with ETA (hidden when ``disable`` or when stderr is not a terminal and not forced)."""
    from tqdm.auto import tqdm

    yield from tqdm(iterable, desc=desc, total=total, disable=disable, file=sys.stderr, dynamic_ncols=True,
                    mininterval=1.0, **kw)


