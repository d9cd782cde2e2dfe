"""Helpers shared by every training phase: run directory, logging, seeding, devices, checkpoints, resume, DDP.

How a phase function is written (see :mod:`cmmnet.training.landmark` for real ones)::

    def train_vae(model, data, cfg: VAEPhaseConfig, run: Run) -> None:
        opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
        ckpt = run.checkpointer("vae")                      # RUN/checkpoints/vae.safetensors
        start = ckpt.restore({"model": model}, {"opt": opt})  # epochs already done (0 on a fresh run)
        net = run.wrap(model)                               # DDP wrapper when world_size > 1, else model
        for epoch in run.epochs("vae", start, cfg.epochs):  # tqdm bar with ETA on rank 0
            for idx in epoch_batches(len(data), cfg.batch_size, run.seed, "vae", epoch, run.dist):
                loss = ...; opt.zero_grad(); loss.backward(); opt.step()
                run.log("vae", {"loss": loss.item()})       # JSONL + TensorBoard, every run.cfg.log_every steps
            ckpt.save(epoch + 1, {"model": model}, {"opt": opt}, complete=epoch + 1 == cfg.epochs)

Rules: one phase = one function; it takes its own frozen phase config and a :class:`Run`; it restores from
``run.checkpointer(phase)`` first (``restore`` returns 0 unless ``--resume`` found a checkpoint) and saves after
every epoch (atomic; model, optimizer, scheduler and RNG state in one safetensors file, never a pickle); data
order comes from :func:`epoch_batches` (a function of seed, phase and epoch only, so a resumed run sees the same
batches); only rank 0 writes files; all ranks call ``ckpt.save`` (it synchronises).
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import os
import random
import shlex
import socket
import subprocess
import sys
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..config import to_dict
from ..errors import CheckpointError, CmmnetError
from ..io import atomic_path, atomic_write_text

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_META_KEY = "cmmnet_checkpoint"


# ----------------------------------------------------------------------------------------------- seeding, devices
def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - the legacy global RNG is what third-party code draws from
    torch.manual_seed(seed)


def set_deterministic(on: bool) -> None:
    """Deterministic kernels (bitwise-reproducible CPU runs); on CUDA also sets the cuBLAS workspace variable."""
    if on:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(on)
    if torch.backends.cudnn.is_available():
        torch.backends.cudnn.benchmark = not on
        torch.backends.cudnn.deterministic = on


def choose_device(spec: str = "auto", local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA (the local rank's GPU) when available, else CPU; ``cpu``; ``cuda``; ``cuda:N``."""
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    if spec.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CmmnetError(f"device {spec!r} requested but no CUDA GPU is available; use --set run.device=cpu")
        if spec == "cuda":
            spec = f"cuda:{local_rank}"
    elif spec != "cpu":
        raise CmmnetError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(spec)


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed that depends only on ``parts`` (stable across processes, unlike ``hash``)."""
    return zlib.crc32(repr(parts).encode()) | (zlib.adler32(repr(parts[::-1]).encode()) << 32)


@dataclass(frozen=True)
class RunConfig:
    """Run-level settings shared by every phase (one section of the experiment config)."""

    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: Literal["fp32", "bf16"] = "fp32"  # bf16 = torch.autocast (CPU with AMX, or GPU)
    determinism: Literal["fast", "deterministic"] = "fast"  # deterministic: bitwise-reproducible CPU runs
    log_every: int = 10  # steps between JSONL/TensorBoard records
    num_threads: int = 0  # torch intra-op threads; 0 = torch's default


# ----------------------------------------------------------------------------------------------- distributed
@dataclass(frozen=True)
class DistContext:
    """Where this process sits in a (possibly single-process) run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def init_distributed(device_spec: str = "auto") -> DistContext:
    """Join the process group when started by ``torchrun`` (``WORLD_SIZE`` > 1): NCCL on GPU, gloo on CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    device = choose_device(device_spec, local)
    if world > 1 and not torch.distributed.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.distributed.init_process_group(backend=backend, timeout=_dt.timedelta(minutes=10))
        log.info("DDP: rank %d/%d on %s (%s)", rank, world, device, backend)
    return DistContext(rank, world, local, device)


def cleanup_distributed() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def barrier(dist: DistContext) -> None:
    if dist.distributed:
        torch.distributed.barrier()


def all_reduce_mean(values: dict[str, float], dist: DistContext) -> dict[str, float]:
    """Average scalar metrics over ranks (identity in a single process)."""
    if not dist.distributed or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=dist.device)
    torch.distributed.all_reduce(t)
    t /= dist.world_size
    return dict(zip(keys, t.tolist()))


def epoch_batches(n: int, batch_size: int, seed: int, phase: str, epoch: int, dist: DistContext | None = None,
                  drop_last: bool = False) -> list[np.ndarray]:
    """Shuffled index batches for one epoch, a pure function of (seed, phase, epoch): resume-safe.

    Under DDP each rank takes an equal, disjoint share (``batch_size`` is per rank); the permutation is padded by
    wrapping so every rank runs the same number of steps.
    """
    if n <= 0:
        raise CmmnetError(f"phase {phase}: no training items; check the dataset's train split")
    rng = np.random.default_rng(stable_seed(seed, phase, epoch))
    perm = rng.permutation(n)
    world = dist.world_size if dist else 1
    rank = dist.rank if dist else 0
    if world > 1:
        per = -(-n // world)
        perm = np.resize(perm, per * world)[rank::world]
    stop = len(perm) - (len(perm) % batch_size if drop_last and len(perm) >= batch_size else 0)
    return [perm[i:i + batch_size] for i in range(0, stop, batch_size)]


# ----------------------------------------------------------------------------------------------- run directory
def epoch_summary(sums: dict[str, float], n_batches: int) -> dict[str, float]:
    """Per-batch sums of one epoch's metrics -> their means, named ``epoch_<metric>``."""
    return {f"epoch_{k}": v / max(1, n_batches) for k, v in sums.items()}


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


class Checkpointer:
    """One phase's resumable checkpoint: ``RUN/checkpoints/PHASE.safetensors``, written atomically.

    A single safetensors file holds model tensors (``model/NAME/KEY``), flattened optimizer state
    (``optim/NAME/PARAM/KEY``) and RNG states (``rng/...``); everything that is not a tensor (epoch, optimizer
    param groups, scheduler state, Python/NumPy RNG scalars) is JSON in the file's metadata. Nothing is pickled.
    """

    def __init__(self, run: Run, phase: str):
        self.run = run
        self.phase = phase
        self.path = run.dir / "checkpoints" / f"{phase}.safetensors"

    # -- reading
    def _read(self) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        return read_checkpoint(self.path)

    def info(self) -> dict[str, Any] | None:
        """The checkpoint's JSON part (``epoch``, ``complete``, ...) or None when there is none."""
        if not self.path.is_file():
            return None
        return self._read()[1]

    @property
    def complete(self) -> bool:
        info = self.info()
        return bool(info and info.get("complete"))

    def finished(self, epochs: int) -> bool:
        """Resuming, and this phase's checkpoint is complete after at least ``epochs`` epochs (the phase is skipped;
        logged)."""
        info = self.info() if self.run.resume else None
        if not (info and info.get("complete") and int(info["epoch"]) >= epochs):
            return False
        log.info("phase %s already complete in %s; skipping", self.phase, self.path)
        return True

    def restore(self, models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer] | None = None,
                schedulers: dict[str, Any] | None = None, rng: bool = True) -> int:
        """Load the checkpoint (only when resuming); returns the number of epochs already done (0 if none)."""
        if not self.run.resume or not self.path.is_file():
            return 0
        tensors, meta = self._read()
        load_training_state(tensors, meta, models, optimizers or {}, schedulers or {}, rng=rng, where=self.path)
        log.info("resumed phase %s after epoch %d from %s", self.phase, meta["epoch"], self.path)
        return int(meta["epoch"])

    def load_models(self, models: dict[str, torch.nn.Module]) -> None:
        """Load only the model weights (e.g. of a finished earlier phase)."""
        tensors, meta = self._read()
        load_training_state(tensors, meta, models, {}, {}, rng=False, where=self.path)

    # -- writing
    def save(self, epoch: int, models: dict[str, torch.nn.Module],
             optimizers: dict[str, torch.optim.Optimizer] | None = None, schedulers: dict[str, Any] | None = None,
             complete: bool = False, extra: dict[str, Any] | None = None) -> None:
        """Write the state after ``epoch`` epochs (rank 0 writes; every rank waits for it)."""
        if self.run.dist.is_main:
            tensors, meta = training_state(models, optimizers or {}, schedulers or {})
            meta.update({"phase": self.phase, "epoch": int(epoch), "complete": bool(complete), **(extra or {})})
            write_checkpoint(self.path, tensors, meta)
        barrier(self.run.dist)


def _unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if isinstance(model, torch.nn.parallel.DistributedDataParallel) else model


def _jsonable(x: Any, where: str) -> Any:
    try:
        json.dumps(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{where}: state is not JSON-serialisable ({e})") from e
    return x


def training_state(models: dict[str, torch.nn.Module], optimizers: dict[str, torch.optim.Optimizer],
                   schedulers: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Flatten models, optimizers, schedulers and RNG states into (tensors, JSON)."""
    tensors: dict[str, torch.Tensor] = {}
    meta: dict[str, Any] = {"format": CHECKPOINT_FORMAT, "optimizers": {}, "schedulers": {}}
    for name, m in models.items():
        for k, v in _unwrap(m).state_dict().items():
            tensors[f"model/{name}/{k}"] = v
    for name, opt in optimizers.items():
        sd = opt.state_dict()
        scalars: dict[str, dict[str, Any]] = {}
        for pid, st in sd["state"].items():
            for k, v in st.items():
                if torch.is_tensor(v):
                    tensors[f"optim/{name}/{pid}/{k}"] = v
                else:
                    scalars.setdefault(str(pid), {})[k] = v
        meta["optimizers"][name] = {"param_groups": _jsonable(sd["param_groups"], f"optimizer {name}"),
                                    "scalars": _jsonable(scalars, f"optimizer {name}")}
    for name, sch in schedulers.items():
        meta["schedulers"][name] = _jsonable(sch.state_dict(), f"scheduler {name}")
    # RNG states: torch CPU (+ CUDA) as tensors, Python and NumPy partly as JSON.
    tensors["rng/torch"] = torch.get_rng_state()
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng/cuda/{i}"] = s
    py = random.getstate()
    meta["rng_python"] = [py[0], list(py[1]), py[2]]
    kind, keys, pos, has_gauss, cached = np.random.get_state()  # noqa: NPY002
    tensors["rng/numpy_keys"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    meta["rng_numpy"] = [kind, int(pos), int(has_gauss), float(cached)]
    return tensors, meta


def load_training_state(tensors: dict[str, torch.Tensor], meta: dict[str, Any], models: dict[str, torch.nn.Module],
                        optimizers: dict[str, Any], schedulers: dict[str, Any], rng: bool, where: Path) -> None:
    """Inverse of :func:`training_state`; raises :class:`CheckpointError` on anything that does not fit."""
    try:
        for name, m in models.items():
            prefix = f"model/{name}/"
            sd = {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}
            target = _unwrap(m)
            own = target.state_dict()
            if set(sd) != set(own) or any(own[k].shape != sd[k].shape for k in own):
                raise CheckpointError(f"{where}: model {name!r} in the checkpoint does not match this architecture; "
                                      "resume with the same config or start a new --out")
            target.load_state_dict(sd)
        for name, opt in optimizers.items():
            om = meta["optimizers"][name]
            state: dict[int, dict[str, Any]] = {}
            prefix = f"optim/{name}/"
            for k, v in tensors.items():
                if k.startswith(prefix):
                    pid, key = k[len(prefix):].split("/", 1)
                    state.setdefault(int(pid), {})[key] = v
            for pid, sc in om["scalars"].items():
                state.setdefault(int(pid), {}).update(sc)
            opt.load_state_dict({"state": state, "param_groups": om["param_groups"]})
        for name, sch in schedulers.items():
            sch.load_state_dict(meta["schedulers"][name])
    except (KeyError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{where}: checkpoint does not fit this run ({e}); resume with the same config") from e
    if rng:
        torch.set_rng_state(tensors["rng/torch"])
        cuda = [tensors[f"rng/cuda/{i}"] for i in range(torch.cuda.device_count()) if f"rng/cuda/{i}" in tensors]
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(cuda)
        v, state, gauss = meta["rng_python"]
        random.setstate((v, tuple(state), gauss))
        kind, pos, has_gauss, cached = meta["rng_numpy"]
        keys = tensors["rng/numpy_keys"].numpy().astype(np.uint32)
        np.random.set_state((kind, keys, pos, has_gauss, cached))  # noqa: NPY002


def write_checkpoint(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> None:
    """One safetensors file, tensors + JSON metadata, written under a temporary name then renamed."""
    flat = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(flat, str(tmp), metadata={_META_KEY: json.dumps(meta)})


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get(_META_KEY)
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open has no __iter__)
        meta = json.loads(raw) if raw else None
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{path}: damaged checkpoint ({e}); delete it to restart this phase") from e
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a cmmnet training checkpoint (format {CHECKPOINT_FORMAT})")
    return tensors, meta


class Run:
    """A run directory and everything a phase writes into it.

    ``RUN/config.json`` (resolved experiment config), ``RUN/run.json`` (git revision, command line, host, torch,
    world size, start time; one entry per start, so resumes are recorded), ``RUN/train.log``,
    ``RUN/metrics.jsonl`` (one JSON object per logged step), ``RUN/tensorboard/``, ``RUN/checkpoints/``.
    """

    def __init__(self, out: str | Path, config: Any, *, resume: bool = False, dist: DistContext | None = None,
                 seed: int = 0, log_every: int = 10, argv: list[str] | None = None, tensorboard: bool = True,
                 precision: str = "fp32"):
        self.dir = Path(out)
        self.precision = precision  # "fp32" or "bf16": phases wrap forward passes in ``autocast(device, precision)``
        self.cfg_dict = to_dict(config) if not isinstance(config, dict) else config
        self.resume = resume
        self.dist = dist or DistContext()
        self.seed = seed
        self.log_every = max(1, int(log_every))
        self._steps: dict[str, int] = {}
        self._tb = None
        self._metrics_f = None
        self._log_handler: logging.Handler | None = None
        cfg_path = self.dir / "config.json"
        if self.dist.is_main:
            if self.dir.exists() and not self.dir.is_dir():
                raise CmmnetError(f"{self.dir}: exists and is not a directory; choose another --out")
            if cfg_path.is_file() and not resume:
                raise CmmnetError(
                    f"{self.dir}: already holds a run; add --resume to continue it or choose another --out"
                )
            if resume and cfg_path.is_file():
                old = json.loads(cfg_path.read_text())
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

    def epochs(self, phase: str, start: int, total: int) -> Iterator[int]:
        """Epoch numbers ``start .. total-1`` with a progress bar (ETA) on rank 0."""
        yield from progress(range(start, total), desc=phase, total=total, initial=start, unit="epoch",
                            disable=not self.dist.is_main)

    def log(self, phase: str, metrics: dict[str, float], step: int | None = None, force: bool = False,
            **fields: Any) -> None:
        """Count a step of ``phase``; every ``log_every`` steps (or ``force``) write metrics to JSONL + TensorBoard."""
        s = self._steps.get(phase, 0) + 1 if step is None else step
        self._steps[phase] = s
        if not force and s % self.log_every:
            return
        metrics = all_reduce_mean({k: float(v) for k, v in metrics.items()}, self.dist)
        if not self.dist.is_main:
            return
        rec = {"time": round(_dt.datetime.now().timestamp(), 3), "phase": phase, "step": s, **fields, **metrics}
        assert self._metrics_f is not None
        self._metrics_f.write(json.dumps(rec) + "\n")
        self._metrics_f.flush()
        if self._tb is not None:
            for k, v in metrics.items():
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


def autocast(device: torch.device, precision: str):
    """``torch.autocast`` for ``bf16`` (CPU with AMX, or GPU); a no-op context for ``fp32``."""
    import contextlib

    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise CmmnetError(f"unknown precision {precision!r}; use fp32 or bf16")
    return contextlib.nullcontext()
