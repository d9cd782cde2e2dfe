"""Where and how the networks run, shared by training and inference: seeding, devices, precision, autocast."""

from __future__ import annotations

import contextlib
import os
import random
import zlib
from typing import Any, Literal

import numpy as np
import torch

from .errors import CmmnetError

Precision = Literal["fp32", "bf16"]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % (2**32))  # noqa: NPY002 - the legacy global RNG is what third-party code draws from
    torch.manual_seed(seed)


def stable_seed(*parts: Any) -> int:
    """A 63-bit seed that depends only on ``parts`` (stable across processes, unlike ``hash``)."""
    return zlib.crc32(repr(parts).encode()) | (zlib.adler32(repr(parts[::-1]).encode()) << 32)


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
            raise CmmnetError(f"device {spec!r} requested but no CUDA GPU is available; use the cpu device")
        if spec == "cuda":
            spec = f"cuda:{local_rank}"
    elif spec != "cpu":
        raise CmmnetError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(spec)


def choose_precision(spec: str, device: torch.device) -> Precision:
    """``fp32`` / ``bf16`` as given; ``auto``: bf16 autocast where it is fast (a CUDA GPU with bf16, or a CPU with
    AMX tiles; bf16 frames match fp32 to SSIM 0.999, benchmarks/RESULTS.md), else fp32."""
    if spec in ("fp32", "bf16"):
        return spec  # type: ignore[return-value]
    if spec != "auto":
        raise CmmnetError(f"unknown precision {spec!r}; use auto, fp32 or bf16")
    if device.type == "cuda":
        return "bf16" if native_bf16(device) else "fp32"
    return "bf16" if torch.cpu._is_amx_tile_supported() else "fp32"


def cpu_kind() -> tuple[str, bool]:
    """(torch's CPU capability, AMX tiles): which float kernels this CPU runs. A run with the same seed gives the
    same bytes on CPUs of one kind; across kinds sums are ordered otherwise and the last bits of floats differ
    (fitted points by ~1e-5 px, so now and then a rendered pixel by a grey level)."""
    return torch.backends.cpu.get_cpu_capability(), bool(torch.cpu._is_amx_tile_supported())


def native_bf16(device: torch.device) -> bool:
    """Whether bf16 autocast runs on bf16 hardware: a CUDA GPU with bf16, or a CPU with AMX tiles or AVX512-BF16.
    Elsewhere torch emulates bf16 arithmetic: on an AVX2 CPU a translator training step took 23x as long as in fp32,
    a single convolution 31x (benchmarks/RESULTS.md, "Precision")."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return bool(torch.cpu._is_amx_tile_supported() or torch.cpu._is_avx512_bf16_supported())


def emulated_bf16_warning(precision: str, device: torch.device) -> str | None:
    """The line to log when ``precision`` asks for bf16 on a device that only emulates it, else None."""
    if precision != "bf16" or native_bf16(device):
        return None
    return (f"bf16 autocast on a {device.type} without bf16 hardware (no AMX, no AVX512-BF16): it is emulated and "
            "runs many times slower than fp32 (20-30x on an AVX2 CPU); use fp32")


def autocast(device: torch.device, precision: str):
    """``torch.autocast`` for ``bf16`` (CPU with AMX, or GPU); a no-op context for ``fp32``."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    if precision != "fp32":
        raise CmmnetError(f"unknown precision {precision!r}; use fp32 or bf16")
    return contextlib.nullcontext()
