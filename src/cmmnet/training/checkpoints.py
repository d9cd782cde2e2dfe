"""Resumable training checkpoints: one safetensors file per phase (``RUN/checkpoints/PHASE.safetensors``) holding
model, optimizer, scheduler and RNG state; written atomically, never pickled."""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ..errors import CheckpointError
from ..io import atomic_path
from .distributed import barrier

if TYPE_CHECKING:
    from .run import Run

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
_META_KEY = "cmmnet_checkpoint"


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


