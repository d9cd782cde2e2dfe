"""Where this process sits in a (possibly single-process) run: DDP under ``torchrun``, barriers, metric averaging."""

from __future__ import annotations

import datetime as _dt
import logging
import os
from dataclasses import dataclass, field

import torch

from ..runtime import choose_device

log = logging.getLogger(__name__)


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


def all_reduce_mean(values: torch.Tensor, dist: DistContext) -> torch.Tensor:
    """Average a tensor of metrics over ranks (identity in a single process)."""
    if not dist.distributed:
        return values
    t = values.to(device=dist.device, dtype=torch.float64)
    torch.distributed.all_reduce(t)
    return t / dist.world_size
