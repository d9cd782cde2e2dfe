"""The methods `cmmnet evaluate` compares, found in training run directories (paper §4.1 Baselines).

A run directory (from ``cmmnet train``) may hold any of:

- ``landmark_generator/`` + ``translator/`` -> **CMM-Net** (:class:`cmmnet.generate.CMMNet`,
  ``generate_aligned`` on each test sequence's neutral frame and label; row 0, the conditional LSTM, is the video
  compared with the real one; rows 1..K, the modes, feed the diversity metrics), one method per renderer asked:
  ``paper`` (the 64 px U-Net G of §3.4, named "CMM-Net") and/or ``warp`` (the neutral frame's own pixels moved
  along the same landmarks, :mod:`cmmnet.render`, named "CMM-Net (warp)");
- ``cra_net/`` -> **CRA-Net** (:class:`cmmnet.models.cra_net.CRANet`);
- ``video_gan/<label>/`` -> **Video-GAN** (:class:`cmmnet.models.video_gan.VideoGANGenerator`, one per label).

Each method turns a batch of neutral frames ``(B, 3, S, S)`` uint8 + their landmarks ``(B, 68, 2)`` + label names
into videos ``(B, T, 3, S, S)`` uint8. ``key`` identifies the weights (hashes) for the result cache.
"""

from __future__ import annotations

import copy
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import get_args

import numpy as np
import torch

from ..errors import CheckpointError, CmmnetError
from ..generate.config import Renderer
from ..models.io import load_pretrained, weights_hash

IDENTITY = np.hstack([np.eye(2), np.zeros((2, 1))])  # (2, 3): the aligned frame's pixels are the aligned pixels


def _to_uint8(v: torch.Tensor) -> np.ndarray:
    return ((v.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu().numpy()


def _to_float(a: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(np.asarray(a, dtype=np.float32) / 127.5 - 1.0).to(device)


@dataclass
class Method:
    """One method of one run: ``name`` (shown in the report), ``slug`` (file names: the name's letters and digits,
    lower case, then the weights hash, e.g. ``cmmnet-0123abcd``, ``cmmnetwarp-0123abcd``), ``key`` (weights hash)."""

    name: str
    run: Path
    key: str
    T: int
    image_size: int
    labels: tuple[str, ...]
    extra: dict = field(default_factory=dict)

    @property
    def slug(self) -> str:
        return f"{re.sub('[^a-z0-9]', '', self.name.lower())}-{self.key[:8]}"

    def generate(self, neutral: np.ndarray, landmarks: np.ndarray, labels: list[str], seed: int,
                 modes_for: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
        """Videos (B, T, 3, S, S) uint8 and, for CMM-Net, the K modes' points (modes_for, K, T, 68, 2) of the
        first ``modes_for`` inputs (None for methods without modes)."""
        raise NotImplementedError

    def check_labels(self, labels: list[str]) -> None:
        missing = sorted(set(labels) - set(self.labels))
        if missing:
            raise CmmnetError(f"{self.run}: {self.name} knows labels {list(self.labels)}, the dataset has {missing}; "
                              "evaluate on the dataset the run was trained on")


def _cmmnet_name(renderer: Renderer) -> str:
    if renderer not in get_args(Renderer):
        raise CmmnetError(f"renderer {renderer!r}: unknown; choose from {', '.join(get_args(Renderer))}")
    return "CMM-Net" if renderer == "paper" else f"CMM-Net ({renderer})"


class CMMNetMethod(Method):
    """CMM-Net with one renderer: ``paper`` (G, "CMM-Net") or ``warp`` ("CMM-Net (warp)"); the same weights key
    (the warp renderer has no weights of its own), so both rows of a report name the same weights. The methods of
    :meth:`with_renderer` share the loaded networks and the landmark sequences (generated once for all renderers)."""

    def __init__(self, run: Path, device: str, renderer: Renderer = "paper"):
        from ..generate import CMMNet, GenerateConfig

        # fp32 whatever the machine: evaluation numbers stay comparable between machines; the dataset's 64 px
        # aligned frames are what the metrics compare, so the warp renderer moves the aligned neutral frame
        name = _cmmnet_name(renderer)
        self.model = CMMNet.from_pretrained(run, GenerateConfig(device=device, precision="fp32", renderer=renderer))
        self.renderer = renderer
        self._landmarks: dict[str, list] = {}  # the LandmarkBatch parts of each generate() input, by its hash
        w = self.model.weights
        # the warp renderer's settings are part of what a row measures (its code is not: a report made before a
        # renderer change is made again in a new report directory)
        key = hashlib.sha256(f"{w['landmark_generator']}{w['translator']}{self.model.config.render!r}".encode())
        key = key.hexdigest()[:16]
        super().__init__(name, run, key, self.model.T, self.model.image_size, self.model.label_names)

    def with_renderer(self, renderer: Renderer) -> CMMNetMethod:
        """The same networks and landmark sequences drawn by ``renderer``."""
        other = copy.copy(self)  # shares self._landmarks
        other.model, other.renderer, other.name = self.model.with_renderer(renderer), renderer, _cmmnet_name(renderer)
        return other

    def generate(self, neutral, landmarks, labels, seed, modes_for=0):
        """:meth:`CMMNet.landmark_batch` on the whole batch, then the renderer on row 0 only (the conditional LSTM,
        the video scored): G, or the warp renderer moving each neutral frame along row 0's points (frame 0 is the
        neutral frame itself). The K modes (their fitted points: the diversity metrics, the same for both
        renderers) are generated for the first ``modes_for`` inputs only, as fitting points to (K+1) T decoded
        images is the costly part; row 0 does not depend on K. The landmark sequences of an input already seen
        (by this method or one of :meth:`with_renderer`) are reused. tests/test_evaluation.py checks the equality
        with ``generate_aligned``. (With a translator whose face input is warped, the fitted points of a smaller
        batch can differ in the last float bits, ~1e-6 px, and bf16 G turns that into a few grey levels on ~1 % of
        the pixels.)"""
        m = self.model
        pts0 = np.array(landmarks, dtype=np.float32)  # (B, 68, 2), a writable copy for torch
        n = min(modes_for, len(pts0))
        key = hashlib.sha256(pts0.tobytes() + repr((list(labels), seed, n)).encode()).hexdigest()
        parts = self._landmarks.get(key)
        if parts is None:
            parts = self._landmarks[key] = [m.landmark_batch(pts0[sl], labels[sl], k, seed) for sl, k in
                                            ((slice(0, n), m.trained_modes), (slice(n, None), 0)) if len(pts0[sl])]
        row0 = [m.translator_inputs(p, slice(0, 1)) for p in parts]  # [(b, 1, T, S, S), (b, 1, T, 68, 2)]
        images, points = (np.concatenate([r[i][:, 0] for r in row0]) for i in (0, 1))  # (B, T, S, S), (B, T, 68, 2)
        modes = parts[0].fitted[:, 1:] if n else np.zeros((0, m.trained_modes, m.T, 68, 2), np.float32)
        videos = [self._render(img, np.array(face.transpose(1, 2, 0)), seq, p0).transpose(0, 3, 1, 2)  # (T,3,S,S)
                  for img, face, seq, p0 in zip(images, neutral, points, pts0)]
        return np.stack(videos), modes

    def _render(self, images: np.ndarray, face: np.ndarray, points: np.ndarray, neutral: np.ndarray) -> np.ndarray:
        """One sequence: landmark images (T, S, S), the neutral face (S, S, 3) uint8, its points (T, 68, 2) and
        the neutral points (68, 2) -> frames (T, S, S, 3) uint8."""
        if self.renderer == "warp":
            return self.model.render_warp(face, IDENTITY, neutral, points[None])[0]
        return self.model.translate(images, face, points, neutral)


class CRANetMethod(Method):
    def __init__(self, run: Path, device: str):
        from ..models.cra_net import CRANet, CRANetConfig

        self.device = torch.device(device)
        self.model, cfg = load_pretrained(CRANet, CRANetConfig, run / "cra_net", expected_class="CRANet")
        self.model.eval().to(self.device)
        super().__init__("CRA-Net", run, weights_hash(run / "cra_net"), cfg.T, cfg.image_size, cfg.label_names)

    @torch.no_grad()
    def generate(self, neutral, landmarks, labels, seed, modes_for=0):
        lab = torch.tensor([self.labels.index(x) for x in labels], device=self.device)
        return _to_uint8(self.model.generate(_to_float(neutral, self.device), lab)), None


class VideoGANMethod(Method):
    def __init__(self, run: Path, device: str):
        from ..models.video_gan import VideoGANConfig, VideoGANGenerator

        self.device = torch.device(device)
        self.models = {}
        hashes = []
        for d in sorted(p for p in (run / "video_gan").iterdir() if (p / "config.json").is_file()):
            g, cfg = load_pretrained(VideoGANGenerator, VideoGANConfig, d, expected_class="VideoGANGenerator")
            self.models[cfg.label] = g.eval().to(self.device)
            hashes.append(weights_hash(d))
        if not self.models:
            raise CheckpointError(f"{run / 'video_gan'}: no trained Video-GAN inside (expected video_gan/<label>/)")
        cfg0 = next(iter(self.models.values())).cfg
        key = hashlib.sha256("".join(hashes).encode()).hexdigest()[:16]
        super().__init__("Video-GAN", run, key, cfg0.T, cfg0.image_size, tuple(self.models))

    @torch.no_grad()
    def generate(self, neutral, landmarks, labels, seed, modes_for=0):
        x = _to_float(neutral, self.device)
        out = np.empty((len(x), self.T, 3, self.image_size, self.image_size), np.uint8)
        gen = torch.Generator(device=self.device).manual_seed(seed)
        for label in sorted(set(labels)):
            sel = [i for i, lab in enumerate(labels) if lab == label]
            g = self.models[label]
            noise = (torch.randn(len(sel), g.cfg.noise_dim, generator=gen, device=self.device)
                     if g.cfg.noise_dim else None)
            out[sel] = _to_uint8(g(x[sel], noise))
        return out, None


def video_name(data, row: int) -> str:
    """The file name of a generated test video, ``<subject>-<row>.mp4``: the same input gives the same name for
    every method, which is how `cmmnet study make` pairs two methods' videos."""
    subject = data.subject_names[int(data.arrays["subjects"][int(row)])]
    return f"{subject}-{int(row):05d}.mp4"


def write_videos(method: Method, data, out: Path, per_label: int, seed: int = 0, batch_size: int = 16) -> Path:
    """Generate the first ``per_label`` test videos of each label with ``method`` into ``out/<label>/`` (at the
    evaluation report's frame rate, :attr:`EvaluateConfig.video_fps`)."""
    from ..video import write_video
    from .evaluate import EvaluateConfig

    test = data.subset("test")
    labels = np.asarray(data.arrays["labels"])[test.index]
    rows = np.concatenate([test.index[labels == i][:per_label] for i in range(len(data.label_names))])
    rows = np.sort(rows)
    if len(rows) == 0:
        raise CmmnetError(f"{data.path}: the dataset has no test sequences")
    names = [data.label_names[int(i)] for i in np.asarray(data.arrays["labels"])[rows]]
    method.check_labels(sorted(set(names)))
    for i in range(0, len(rows), batch_size):
        r = rows[i:i + batch_size]
        faces0 = np.asarray(data.arrays["faces"][r, 0])
        lm0 = np.asarray(data.arrays["landmarks"][r, 0])
        videos, _ = method.generate(faces0, lm0, names[i:i + batch_size], seed)
        for v, row, label in zip(videos, r, names[i:i + batch_size]):
            write_video(out / label / video_name(data, row), v.transpose(0, 2, 3, 1), fps=EvaluateConfig.video_fps)
    return out


def find_methods(run: str | Path, device: str = "cpu", renderers: tuple[Renderer, ...] = ("paper",)) -> list[Method]:
    """Every method a run directory holds (see the module doc), CMM-Net once per renderer in ``renderers`` (in
    that order, one set of loaded networks and landmark sequences); CmmnetError when it holds none. ``default``
    is the CMM-Net weights shipped in the package (``cmmnet/assets/weights/``)."""
    if str(run) == "default":
        from ..generate import default_weights_dir

        run = default_weights_dir()
    run = Path(run)
    if not run.is_dir():
        raise CmmnetError(f"{run}: run directory not found; give a directory written by `cmmnet train`")
    found: list[Method] = []
    from ..generate.pipeline import part_dirs

    if renderers and all((run / d).is_dir() for d in part_dirs(run).values()):
        first = CMMNetMethod(run, device, renderers[0])
        found += [first, *(first.with_renderer(r) for r in renderers[1:])]
    if (run / "cra_net" / "config.json").is_file():
        found.append(CRANetMethod(run, device))
    if (run / "video_gan").is_dir():
        found.append(VideoGANMethod(run, device))
    if not found:
        only = [d for d in ("landmark_generator", "translator") if (run / d).is_dir()]
        hint = (f" (it has only {only[0]}/: CMM-Net needs landmark_generator/ and translator/ in one directory; "
                "link both into one)") if only else ""
        raise CmmnetError(f"{run}: holds no trained model (landmark_generator/ + translator/, cra_net/ or "
                          f"video_gan/<label>/){hint}; train with `cmmnet train --phases ...`")
    return found
