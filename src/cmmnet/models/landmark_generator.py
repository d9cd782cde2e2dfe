"""The CMM-Net landmark generator (paper §3.2, §3.3; magenta + turquoise blocks of Fig. 3).

:class:`LandmarkGenerator` composes the landmark-image VAE (encoder gives h0, decoder gives images), the
conditional LSTM (h0 + label -> h1..hT), the K multi-mode LSTMs (h1..hT -> K sequences), the mode discriminator
phi and the point model that reads 68 points back from decoded images (or, with ``readout="linear"``, the linear
read-out of the embeddings, :class:`PointReadout`). It is saved and loaded with
:mod:`cmmnet.models.io` (``config.json`` + ``model.safetensors``, class ``"LandmarkGenerator"``).

Time indexing: output step t = 1..T is compared with dataset frame t-1 (frame 0 is the neutral face, so the
first output reproduces it and the sequence has the dataset's T frames).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import nn

from ..errors import CmmnetError
from ..faces.align import AlignConfig
from ..faces.draw import LandmarkDrawConfig, landmark_images
from .conditional_lstm import ConditionalLSTM, ConditionalLSTMConfig
from .landmark_vae import LandmarkVAE, LandmarkVAEConfig
from .multimode import MultiModeConfig, MultiModeLSTMs, Phi
from .point_model import PointModel, PointModelConfig
from .point_readout import PointReadout

CLASS_NAME = "LandmarkGenerator"


@dataclass(frozen=True)
class LandmarkGeneratorConfig:
    image_size: int = 64  # §4.1
    T: int = 32  # §4.1: average neutral-to-smile length
    modes: int = 3  # K, §3.3 / §4
    label_names: tuple[str, ...] = ("posed", "spontaneous")
    h0: Literal["mean", "sample"] = "mean"  # h0 = the encoder's mean (deterministic) or a sample (see docs)
    vae: LandmarkVAEConfig = field(default_factory=LandmarkVAEConfig)
    lstm: ConditionalLSTMConfig = field(default_factory=ConditionalLSTMConfig)
    multimode: MultiModeConfig = field(default_factory=MultiModeConfig)
    points: PointModelConfig = field(default_factory=PointModelConfig)
    # How points are read from embeddings: "fit" decodes landmark images and fits the shape model to them
    # (PointModel); "linear" applies the linear read-out fitted on the train frames' encoder means (PointReadout),
    # which the LSTM phases with target "points" train against. See docs/landmark-generator.md.
    readout: Literal["fit", "linear"] = "fit"
    # The preprocessing of the training data, which inference repeats: the face alignment (its size follows
    # image_size), how landmarks became images (and so how neutral landmarks become y0), the frame rate.
    align: AlignConfig = field(default_factory=AlignConfig)
    draw: LandmarkDrawConfig = field(default_factory=LandmarkDrawConfig)
    fps: float = 50.0  # frames per second of the training sequences (FRL-Smile's onsets: UvA-NEMO's 50 fps)

    def __post_init__(self) -> None:
        object.__setattr__(self, "align", replace(self.align, size=self.image_size))  # one size, image_size


@dataclass
class LandmarkSequences:
    """What :meth:`LandmarkGenerator.generate` returns; row 0 = the conditional LSTM, rows 1..K = the modes."""

    images: np.ndarray  # (K+1, T, S, S) float32 in [0, 1], decoded landmark images
    points: np.ndarray  # (K+1, T, 68, 2) float32, aligned pixels, fitted from the images
    embeddings: np.ndarray  # (K+1, T, D) float32, the landmark embeddings h_t / h_tk
    label: str


class LandmarkGenerator(nn.Module):
    """VAE + conditional LSTM + K mode LSTMs + phi + point model."""

    def __init__(self, cfg: LandmarkGeneratorConfig):
        super().__init__()
        if not cfg.label_names:
            raise CmmnetError("LandmarkGenerator: label_names is empty; the dataset must name its labels")
        if cfg.modes < 1:
            raise CmmnetError(f"LandmarkGenerator: modes must be >= 1, got {cfg.modes}")
        self.cfg = cfg
        d = cfg.vae.latent_dim
        self.vae = LandmarkVAE(cfg.vae, cfg.image_size)
        self.lstm = ConditionalLSTM(cfg.lstm, d, len(cfg.label_names))
        self.multimode = MultiModeLSTMs(cfg.multimode, d, cfg.modes)
        self.phi = Phi(d, cfg.modes)
        self.points = PointModel(cfg.points)
        self.readout = PointReadout(d) if cfg.readout == "linear" else None

    # ------------------------------------------------------------------------------------------- batched torch path
    def embed_neutral(self, y0: torch.Tensor, generator: torch.Generator | None = None
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Neutral landmark images y0 (B, 1, S, S) -> (h0, mu, logvar), each (B, D); h0 per ``cfg.h0``."""
        mu, logvar = self.vae.encode(y0)  # (B, D) each
        h0 = mu if self.cfg.h0 == "mean" else self.vae.sample(mu, logvar, generator)
        return h0, mu, logvar

    def sequences(self, h0: torch.Tensor, labels: torch.Tensor, modes: int | None = None
                  ) -> tuple[torch.Tensor, torch.Tensor]:
        """h0 (B, D) + labels (B,) -> conditional sequence h (B, T, D) and mode sequences (B, K, T, D)."""
        h = self.lstm(h0, labels, self.cfg.T)  # (B, T, D)
        k = self.check_modes(modes)
        hk = self.multimode(h, k) if k > 0 else h.new_zeros(h.shape[0], 0, *h.shape[1:])  # (B, K, T, D)
        return h, hk

    @torch.no_grad()
    def generate_batch(self, neutral_images: torch.Tensor, labels: torch.Tensor, modes: int | None = None,
                       seed: int = 0, neutral_points: torch.Tensor | None = None, fit_points: bool = True,
                       fit_iterations: int | None = None, decode: bool = True) -> dict[str, torch.Tensor]:
        """Batched generation for evaluation (eval mode, no grad).

        ``neutral_images`` (B, 1, S, S) in [0, 1], ``labels`` (B,) int. Returns ``images`` (B, K+1, T, S, S),
        ``embeddings`` (B, K+1, T, D) and, with ``fit_points``, ``points`` (B, K+1, T, 68, 2): read out linearly
        from the embeddings (``cfg.readout == "linear"``) or fitted to the images (started from ``neutral_points``
        (B, 68, 2) when given, else from the mean shape; ``fit_iterations`` ICP iterations, default the point
        model's). Points are computed in fp32, also under an enclosing autocast. ``decode=False`` leaves the images
        out when the points do not need them (``readout == "linear"``): no decoder pass.
        """
        was = self.training
        self.eval()
        try:
            gen = torch.Generator(device=neutral_images.device).manual_seed(int(seed))
            h0, _, _ = self.embed_neutral(neutral_images, gen)
            h, hk = self.sequences(h0, labels, modes)
            emb = torch.cat([h[:, None], hk], dim=1)  # (B, K+1, T, D)
            out = {"embeddings": emb}
            if fit_points and self.readout is not None:
                with torch.autocast(emb.device.type, enabled=False):
                    out["points"] = self.readout(emb.float())  # (B, K+1, T, 68, 2)
            if not (decode or fit_points and self.readout is None):  # nothing needs the decoded images
                return out
            images = out["images"] = self.vae.decode(emb)[:, :, :, 0]  # (B, K+1, T, S, S)
            if fit_points and "points" not in out:
                b, k1, t, s, _ = images.shape
                init = None
                if neutral_points is not None:
                    init = neutral_points[:, None, None].expand(b, k1, t, *neutral_points.shape[1:])
                    init = init.reshape(-1, *neutral_points.shape[1:])
                with torch.autocast(images.device.type, enabled=False):
                    pts = self.points.fit(images.reshape(-1, s, s), init=init, iterations=fit_iterations)  # (N, 68, 2)
                out["points"] = pts.reshape(b, k1, t, *pts.shape[1:])
            return out
        finally:
            self.train(was)

    # ------------------------------------------------------------------------------------------- user API
    def check_modes(self, modes: int | None) -> int:
        k = self.cfg.modes if modes is None else int(modes)
        if k > self.cfg.modes or k < 0:
            raise CmmnetError(f"modes={k}: this landmark generator was trained with K={self.cfg.modes} modes; "
                              f"ask for 0..{self.cfg.modes}")
        return k

    def label_index(self, label: str | int) -> int:
        names = list(self.cfg.label_names)
        if isinstance(label, (int, np.integer)) and not isinstance(label, bool):
            if not 0 <= int(label) < len(names):
                raise CmmnetError(f"unknown label index {label}; use 0..{len(names) - 1} ({', '.join(names)})")
            return int(label)
        if label not in names:
            raise CmmnetError(f"unknown label {label!r}; use one of {', '.join(names)}")
        return names.index(label)

    @staticmethod
    def check_neutral(neutral_landmarks: np.ndarray) -> np.ndarray:
        """(68, 2) float32 aligned px, or CmmnetError."""
        lm = np.asarray(neutral_landmarks, dtype=np.float32)
        if lm.shape != (68, 2) or not np.isfinite(lm).all():
            raise CmmnetError(f"neutral_landmarks must be a finite (68, 2) array of aligned pixels, got {lm.shape}")
        return lm

    def draw_neutral(self, neutral_landmarks: np.ndarray) -> np.ndarray:
        """(68, 2) aligned px -> (S, S) float32 landmark image y0, drawn as the training data was."""
        return landmark_images(self.check_neutral(neutral_landmarks), self.cfg.image_size, self.cfg.draw)[0]

    @torch.no_grad()
    def generate_many(self, neutral_landmarks: np.ndarray, labels: list[str | int] | tuple[str | int, ...],
                      modes: int | None = None, seed: int = 0, fit_iterations: int | None = None,
                      decode: bool = True) -> dict[str, np.ndarray]:
        """The batched path from neutral landmarks to landmark sequences (what inference, evaluation and the
        reports use): ``neutral_landmarks`` (B, 68, 2) aligned px of the ``image_size`` face, one label (name or
        index) each -> ``images`` (B, K+1, T, S, S) decoded, ``points`` (B, K+1, T, 68, 2) fitted to them (from the
        neutral landmarks, ``fit_iterations`` ICP iterations, default the point model's) and ``embeddings``
        (B, K+1, T, D), float32. Row 0 is the conditional LSTM's, rows 1..K the modes'. The networks run under an
        enclosing autocast, the point fit in fp32. ``decode=False``: no ``images`` where the points do not need
        them."""
        k = self.check_modes(modes)
        idx = [self.label_index(x) for x in labels]
        dev = next(self.parameters()).device
        pts0 = np.asarray(neutral_landmarks, dtype=np.float32)
        y0 = torch.from_numpy(np.stack([self.draw_neutral(p) for p in pts0]))[:, None].to(dev)  # (B, 1, S, S)
        out = self.generate_batch(y0, torch.tensor(idx, device=dev), k, seed,
                                  neutral_points=torch.from_numpy(np.array(pts0)).to(dev),
                                  fit_iterations=fit_iterations, decode=decode)
        return {name: v.float().cpu().numpy() for name, v in out.items()}

    def generate(self, neutral_landmarks: np.ndarray, label: str | int, modes: int | None = None,
                 seed: int = 0) -> LandmarkSequences:
        """Landmark sequences for one neutral face (:meth:`generate_many` of a batch of one).

        ``neutral_landmarks`` (68, 2) in aligned pixels of the ``image_size`` face; ``label`` a name or index of
        ``cfg.label_names``; ``modes`` how many of the trained K modes (default all); ``seed`` only matters when
        ``cfg.h0 == "sample"``.
        """
        name = self.cfg.label_names[self.label_index(label)]
        out = self.generate_many(self.check_neutral(neutral_landmarks)[None], [label], modes, seed)
        return LandmarkSequences(images=out["images"][0], points=out["points"][0], embeddings=out["embeddings"][0],
                                 label=name)

    # ------------------------------------------------------------------------------------------- persistence
    def save_pretrained(self, directory: str | Path) -> None:
        from .io import save_pretrained

        save_pretrained(self, self.cfg, directory, name=CLASS_NAME)

    @classmethod
    def from_pretrained(cls, directory: str | Path, device: str | torch.device = "cpu") -> LandmarkGenerator:
        """Load a directory written by :meth:`save_pretrained`; raises CheckpointError on a wrong/damaged one."""
        from .io import load_pretrained

        model, _ = load_pretrained(cls, LandmarkGeneratorConfig, directory, expected_class=CLASS_NAME)
        assert isinstance(model, LandmarkGenerator)
        return model.to(device).eval()
