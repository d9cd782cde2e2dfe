"""Inception-v3 (Szegedy et al. 2016) in plain torch, for the Inception Score of Table 1 (paper §4.3, [33]).

No torchvision here, and nothing is downloaded: the user gives the weights file, as ``.safetensors`` (convert the
distributed ``.pth`` once with ``scripts/convert_inception.py``). Two layouts load:

- the common FID/IS Inception weights (``pt_inception-2015-12-05-*.pth`` as distributed with pytorch-fid, a port
  of TensorFlow's 2015-12-05 graph): 1008 classes, ``variant="fid"`` (its pooling quirks: average pools that do not
  count padding, and a max pool in the last block);
- torchvision's ImageNet ``inception_v3_google-*.pth``: 1000 classes, ``variant="torchvision"``.

The parameter names are torchvision's (``Conv2d_1a_3x3.conv.weight``, ``Mixed_5b.branch1x1.bn.running_mean``,
``fc.weight`` ...). The variant and class count are read from the file; ``AuxLogits.*`` entries are ignored.

Safety: weights are never unpickled at run time: only ``.safetensors`` is read here. The one-off converter
``scripts/convert_inception.py`` is the only place a ``.pth`` is opened, with ``torch.load(weights_only=True)``.

Input: ``(B, 3, H, W)`` RGB in [0, 1] at any size; it is resized to 299x299 (bilinear) and mapped to [-1, 1]
(both weight sets expect that range).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .io import load_checked

Variant = Literal["fid", "torchvision"]


@dataclass(frozen=True)
class InceptionConfig:
    num_classes: int = 1008  # 1008 for the FID/IS TF port, 1000 for torchvision's ImageNet weights
    variant: Variant = "fid"
    input_size: int = 299


class BasicConv2d(nn.Module):
    def __init__(self, cin: int, cout: int, **kw):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, bias=False, **kw)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))


def _avg3(x: torch.Tensor, fid: bool) -> torch.Tensor:
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=not fid)


class InceptionA(nn.Module):
    def __init__(self, cin: int, pool_features: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(cin, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        d = self.branch_pool(_avg3(x, self.fid))
        return torch.cat([a, b, c, d], 1)  # (B, 224 + pool_features, H, W)


class InceptionB(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        c = F.max_pool2d(x, 3, stride=2)
        return torch.cat([a, b, c], 1)  # (B, 480 + cin, H/2, W/2)


class InceptionC(nn.Module):
    def __init__(self, cin: int, c7: int, fid: bool):
        super().__init__()
        self.fid = fid
        self.branch1x1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            c = layer(c)
        d = self.branch_pool(_avg3(x, self.fid))
        return torch.cat([a, b, c, d], 1)  # (B, 768, H, W)


class InceptionD(nn.Module):
    def __init__(self, cin: int):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        c = F.max_pool2d(x, 3, stride=2)
        return torch.cat([a, b, c], 1)  # (B, 512 + cin, H/2, W/2)


class InceptionE(nn.Module):
    def __init__(self, cin: int, pool: Literal["avg", "avg_nopad", "max"]):
        super().__init__()
        self.pool = pool
        self.branch1x1 = BasicConv2d(cin, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(cin, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        if self.pool == "max":
            p = F.max_pool2d(x, 3, stride=1, padding=1)
        else:
            p = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=self.pool == "avg")
        d = self.branch_pool(p)
        return torch.cat([a, b, c, d], 1)  # (B, 2048, H, W)


class InceptionV3(nn.Module):
    """Inception-v3 classifier; :meth:`forward` gives logits ``(B, num_classes)``, :meth:`probs` softmax."""

    def __init__(self, config: InceptionConfig = InceptionConfig()):
        super().__init__()
        self.config = config
        fid = config.variant == "fid"
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, 32, fid)
        self.Mixed_5c = InceptionA(256, 64, fid)
        self.Mixed_5d = InceptionA(288, 64, fid)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, 128, fid)
        self.Mixed_6c = InceptionC(768, 160, fid)
        self.Mixed_6d = InceptionC(768, 160, fid)
        self.Mixed_6e = InceptionC(768, 192, fid)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, "avg_nopad" if fid else "avg")
        self.Mixed_7c = InceptionE(2048, "max" if fid else "avg")
        self.fc = nn.Linear(2048, config.num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """``x`` (B, 3, H, W) in [0, 1] -> pool3 features (B, 2048)."""
        s = self.config.input_size
        if x.shape[-2:] != (s, s):
            x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False)
        x = 2.0 * x - 1.0  # (B, 3, 299, 299) in [-1, 1]
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))  # (B, 64, 147, 147)
        x = F.max_pool2d(x, 3, stride=2)  # (B, 64, 73, 73)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))  # (B, 192, 71, 71)
        x = F.max_pool2d(x, 3, stride=2)  # (B, 192, 35, 35)
        x = self.Mixed_5d(self.Mixed_5c(self.Mixed_5b(x)))  # (B, 288, 35, 35)
        x = self.Mixed_6a(x)  # (B, 768, 17, 17)
        x = self.Mixed_6e(self.Mixed_6d(self.Mixed_6c(self.Mixed_6b(x))))  # (B, 768, 17, 17)
        x = self.Mixed_7a(x)  # (B, 1280, 8, 8)
        x = self.Mixed_7c(self.Mixed_7b(x))  # (B, 2048, 8, 8)
        return x.mean((2, 3))  # (B, 2048)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x))  # (B, num_classes)

    @torch.no_grad()
    def probs(self, x: torch.Tensor) -> torch.Tensor:
        """Softmax class probabilities ``(B, C)`` (the Inception Score of the FID/IS port uses all 1008)."""
        return F.softmax(self.forward(x).double(), dim=1).float()


def read_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read an Inception-v3 state dict from a ``.safetensors`` file (the only format read at run time).

    A pickled ``.pth`` is refused with a message pointing at ``scripts/convert_inception.py``, the one-off
    converter (it alone reads the ``.pth``, with ``torch.load(weights_only=True)``).
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(
            f"{path}: Inception weights not found; give the FID/IS Inception weights converted to .safetensors "
            "(python scripts/convert_inception.py pt_inception-2015-12-05-6726825d.pth inception.safetensors) "
            "with --inception PATH, or leave --inception out to skip the Inception Score"
        )
    if path.suffix != ".safetensors":
        raise CheckpointError(
            f"{path}: Inception weights must be a .safetensors file; convert the .pth once with "
            f"`python scripts/convert_inception.py {path} {path.with_suffix('.safetensors')}`"
        )
    from .io import load_state

    return load_state(path)


def load_inception(path: str | Path) -> InceptionV3:
    """Build an :class:`InceptionV3` from a user-given weights file (see the module doc); eval mode."""
    state = read_weights(path)
    state = {k.removeprefix("module."): v for k, v in state.items() if not k.startswith(("AuxLogits.", "module.Aux"))}
    if "fc.weight" not in state:
        raise CheckpointError(f"{path}: no fc.weight; not an Inception-v3 classifier state dict")
    n = int(state["fc.weight"].shape[0])
    cfg = InceptionConfig(num_classes=n, variant="fid" if n == 1008 else "torchvision")
    model = InceptionV3(cfg)
    load_checked(model, state, f"{path}: weights", "Inception-v3", "; give the FID/IS Inception weights")
    return model.eval().to(memory_format=torch.channels_last)  # oneDNN convolutions are ~25% faster in NHWC on CPU


@torch.no_grad()
def class_probs(classifier: nn.Module, frames, batch_size: int = 32, device: str = "cpu") -> torch.Tensor:
    """Softmax probabilities ``(M, C)`` of uint8 frames ``(M, 3, S, S)`` under ``classifier`` (logits out)."""
    import numpy as np

    frames = np.asarray(frames)
    out = []
    for i in range(0, len(frames), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(frames[i:i + batch_size])).float().div(255.0).to(device)
        x = x.contiguous(memory_format=torch.channels_last)  # (B, 3, S, S), NHWC in memory
        out.append(F.softmax(classifier(x).double(), dim=1).cpu())
    return torch.cat(out).float()
