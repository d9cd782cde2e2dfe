"""Inference: one neutral photo and a label in, K + 1 smile videos of that person out (the whole of CMM-Net).

photo -> face front end (:func:`cmmnet.faces.pipeline.process_image`: dlib detection, 68 landmarks, alignment to
64x64) -> neutral aligned landmarks -> :meth:`LandmarkGenerator.generate` (the conditional LSTM + K mode LSTMs,
§3.2-3.3) -> one landmark image per frame -> the U-Net G of §3.4 (``w_t = G(y_t, z_0)``) -> frames.

Which landmark images G sees is :attr:`GenerateConfig.landmark_input` (the paper feeds the VAE decoder's output,
§3.4; see docs/translation.md for the choice):

- ``retargeted`` (default): the generated motion applied to the person's own landmarks,
  ``p_t' = p_neutral + (p_t - p_0)``, redrawn with :func:`draw_landmarks`: G sees binary images exactly like those it
  was trained on, and frame 0 is the person's own face shape (identity is kept; the landmark generator's small
  error in reproducing the neutral shape cancels out).
- ``redrawn``: the points fitted from the decoded images, redrawn as they are.
- ``decoded``: the VAE decoder's soft images themselves (the paper's wiring).

A translator trained with ``UNetConfig.face_input = "warped"`` (not the shipped one) gets, instead of ``z_0``,
the neutral face TPS-warped onto each frame's points, ``GenerationResult.points`` (:mod:`cmmnet.models.warp`).

Inference only: no optimisers, no training code. Models run in ``eval`` mode on ``GenerateConfig.device``, with
bf16 autocast when ``precision = "bf16"``.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import torch

from .errors import CheckpointError, CmmnetError
from .faces import AlignConfig, AlignedFace, FaceDetector, LandmarkDrawConfig, align_face, draw_landmarks
from .faces.paste import PasteConfig
from .faces.pipeline import FrontEndConfig, process_image
from .limits import MAX_MODES, check_modes_range
from .models.io import weights_hash
from .models.unet import UNetConfig, UNetGenerator

log = logging.getLogger(__name__)
M = TypeVar("M", bound=torch.nn.Module)

LANDMARK_DIR = "landmark_generator"
TRANSLATOR_DIR = "translator"


def default_weights_dir() -> Path:
    """The weights shipped inside the package: ``cmmnet/assets/weights/{landmark_generator,translator}/``."""
    return Path(str(resources.files("cmmnet") / "assets" / "weights"))


@dataclass(frozen=True)
class GenerateConfig:
    landmark_input: Literal["retargeted", "redrawn", "decoded"] = "retargeted"
    precision: Literal["auto", "fp32", "bf16"] = "fp32"  # bf16 autocast; auto = bf16 on a GPU or an AMX CPU
    device: str = "auto"  # auto (CUDA when available), cpu, cuda, cuda:N
    front_end: FrontEndConfig = field(default_factory=FrontEndConfig)  # detection + alignment (as the dataset's)
    draw: LandmarkDrawConfig = field(default_factory=LandmarkDrawConfig)  # as FRL-Smile's landmark images
    paste: PasteConfig = field(default_factory=PasteConfig)
    point_fit_iterations: int = 6  # ICP iterations of the point fit (from the neutral shape); 0 = the model's


@dataclass
class GenerationResult:
    """K + 1 generated sequences of one person. Row 0 = the conditional LSTM, rows 1..K = the modes."""

    label: str
    seed: int
    frames: np.ndarray  # (K+1, T, S, S, 3) uint8 generated faces
    landmark_images: np.ndarray  # (K+1, T, S, S) float32 in [0, 1]: what G was fed
    points: np.ndarray  # (K+1, T, 68, 2) float32 aligned px (the drawn points; fitted ones for `decoded`)
    neutral_face: np.ndarray  # (S, S, 3) uint8 aligned input face z_0
    neutral_landmarks: np.ndarray  # (68, 2) float32 aligned px
    reference: np.ndarray  # (S, S, 3) uint8: G's rendering of the neutral face (for `paste` mode "delta")
    transform: np.ndarray | None = None  # (2, 3) input-image pixels -> aligned pixels (None for aligned input)
    n_faces: int = 1  # faces found in the photo (the largest was used)
    box: np.ndarray | None = None  # (4,) face box in input-image pixels

    @property
    def modes(self) -> int:
        return int(self.frames.shape[0]) - 1


def _choose_device(spec: str) -> torch.device:
    if spec == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if spec.startswith("cuda") and not torch.cuda.is_available():
        raise CmmnetError(f"device {spec!r} requested but no CUDA GPU is available; use device=cpu")
    if spec != "cpu" and not spec.startswith("cuda"):
        raise CmmnetError(f"unknown device {spec!r}; use auto, cpu, cuda or cuda:N")
    return torch.device(spec)


def _choose_precision(spec: str, device: torch.device) -> Literal["fp32", "bf16"]:
    """``auto``: bf16 autocast where it is fast (a CUDA GPU with bf16, or a CPU with AMX tiles; bf16 frames match
    fp32 to SSIM 0.999, benchmarks/RESULTS.md), else fp32."""
    if spec in ("fp32", "bf16"):
        return spec  # type: ignore[return-value]
    if spec != "auto":
        raise CmmnetError(f"unknown precision {spec!r}; use auto, fp32 or bf16")
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    return "bf16" if torch.cpu._is_amx_tile_supported() else "fp32"


def fold_batch_norm(model: M) -> M:
    """An inference copy of ``model`` (G, the landmark generator, ...) with every Conv/ConvTranspose -> BatchNorm2d
    pair inside an ``nn.Sequential`` fused into one convolution (eval-mode statistics, so the output is unchanged up
    to float rounding; one pass over the activations fewer per layer: the VAE decoder runs 1.6x faster)."""
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    model = copy.deepcopy(model).eval()
    for seq in [m for m in model.modules() if isinstance(m, torch.nn.Sequential)]:
        for i in range(len(seq) - 1):
            conv, bn = seq[i], seq[i + 1]
            if isinstance(conv, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) and isinstance(bn, torch.nn.BatchNorm2d):
                seq[i] = fuse_conv_bn_eval(conv, bn, transpose=isinstance(conv, torch.nn.ConvTranspose2d))
                seq[i + 1] = torch.nn.Identity()
    return model


def _model_config(model: torch.nn.Module) -> Any:
    return getattr(model, "cfg", None) or model.config


class CMMNet:
    """The trained CMM-Net: a :class:`LandmarkGenerator` and the translator G (a :class:`UNetGenerator`)."""

    def __init__(self, landmark_generator: torch.nn.Module, translator: UNetGenerator,
                 config: GenerateConfig | None = None, weights: dict[str, str] | None = None):
        self.config = config or GenerateConfig()
        self.device = _choose_device(self.config.device)
        self.precision = _choose_precision(self.config.precision, self.device)
        self.landmark_generator = fold_batch_norm(landmark_generator).to(self.device)
        # batch norm folded into the convolutions (eval statistics: same output, fewer passes) and channels-last
        # (oneDNN's convolutions, transposed ones above all, run faster on CPU in NHWC)
        self.translator = fold_batch_norm(translator.eval()).to(self.device, memory_format=torch.channels_last)
        lm_cfg = _model_config(landmark_generator)
        self.image_size = int(lm_cfg.image_size)
        self.T = int(lm_cfg.T)
        self.trained_modes = int(lm_cfg.modes)
        self.label_names = tuple(lm_cfg.label_names)
        self.weights = dict(weights or {})  # provenance: {"landmark_generator": hash, "translator": hash, "dir": ...}
        if translator.cfg.image_size != self.image_size or self.config.front_end.align.size != self.image_size:
            raise CheckpointError(
                f"landmark generator works at {self.image_size}px, translator at {translator.cfg.image_size}px, "
                f"alignment at {self.config.front_end.align.size}px; use weights trained together")
        self._detector: FaceDetector | None = None

    # ------------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, config: GenerateConfig | None = None) -> CMMNet:
        """Load from a directory holding ``landmark_generator/`` and ``translator/`` (e.g. a training run
        directory); ``None`` = the default weights shipped with the package."""
        from .models.landmark_generator import LandmarkGenerator

        base = default_weights_dir() if path is None else Path(path)
        what = "the default weights (reinstall cmmnet)" if path is None else f"{base}"
        if not base.is_dir():
            raise CheckpointError(f"{what}: weights directory not found; pass --weights RUN_DIR with "
                                  f"{LANDMARK_DIR}/ and {TRANSLATOR_DIR}/")
        for sub in (LANDMARK_DIR, TRANSLATOR_DIR):
            if not (base / sub).is_dir():
                raise CheckpointError(f"{base}: no {sub}/ inside; expected a run directory from `cmmnet train` "
                                      f"(with {LANDMARK_DIR}/ and {TRANSLATOR_DIR}/)")
        lm = LandmarkGenerator.from_pretrained(base / LANDMARK_DIR)
        from .models.io import load_pretrained

        g, _ = load_pretrained(UNetGenerator, UNetConfig, base / TRANSLATOR_DIR, expected_class="UNetGenerator")
        weights = {"dir": str(base.resolve()), LANDMARK_DIR: weights_hash(base / LANDMARK_DIR),
                   TRANSLATOR_DIR: weights_hash(base / TRANSLATOR_DIR)}
        return cls(lm, g, config, weights)  # type: ignore[arg-type]

    # ------------------------------------------------------------------------------------------------ checks
    def check_request(self, label: str | int, modes: int | None) -> tuple[str, int]:
        """Validate a label and a mode count against these weights; returns ``(label name, K)``."""
        name = self.label_names[self.landmark_generator.label_index(label)]
        k = self.trained_modes if modes is None else int(modes)
        check_modes_range(k)
        if k > self.trained_modes:
            raise CmmnetError(f"--modes {k}: these weights were trained with K = {self.trained_modes} modes; "
                              f"use --modes {self.trained_modes} or less")
        return name, k

    # ------------------------------------------------------------------------------------------------ running
    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.precision == "bf16")

    @torch.no_grad()
    def translate(self, landmark_images: np.ndarray, neutral_face: np.ndarray, points: np.ndarray | None = None,
                  neutral_points: np.ndarray | None = None, batch_size: int = 256) -> np.ndarray:
        """G of §3.4 on (N, S, S) landmark images in [0, 1] and one (S, S, 3) uint8 neutral face -> (N, S, S, 3).

        A translator with ``face_input = "warped"`` also needs the frames' landmarks ``points`` (N, 68, 2) and the
        neutral face's ``neutral_points`` (68, 2) (aligned pixels)."""
        y = torch.from_numpy(np.asarray(landmark_images, dtype=np.float32)).unsqueeze(1)  # (N, 1, S, S)
        z0 = torch.from_numpy(np.ascontiguousarray(neutral_face.transpose(2, 0, 1))).float() / 127.5 - 1.0  # (3,S,S)
        z0 = z0.to(self.device)
        def tensor(a: np.ndarray | None) -> torch.Tensor | None:
            return None if a is None else torch.from_numpy(np.array(a, dtype=np.float32)).to(self.device)

        pts, p0 = tensor(points), tensor(neutral_points)  # (N, 68, 2), (68, 2) or None
        out = []
        for i in range(0, len(y), batch_size):
            yb = y[i:i + batch_size].to(self.device).contiguous(memory_format=torch.channels_last)  # (B, 1, S, S)
            n = len(yb)
            zb = self.translator.face_input_for(z0.expand(n, -1, -1, -1), None if p0 is None else p0.expand(n, -1, -1),
                                                None if pts is None else pts[i:i + n])  # (B, 3, S, S)
            zb = zb.contiguous(memory_format=torch.channels_last)
            with self.autocast():
                w = self.translator(yb, zb)  # (B, 3, S, S) in [-1, 1]
            out.append(((w.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).cpu())
        return torch.cat(out).numpy()  # (N, S, S, 3)

    @torch.no_grad()
    def landmark_sequences(self, neutral_landmarks: np.ndarray, label: str, modes: int,
                           seed: int) -> tuple[np.ndarray, np.ndarray]:
        """What :meth:`LandmarkGenerator.generate` computes, with the networks under bf16 autocast when asked (the
        point fit stays in fp32): decoded images (K+1, T, S, S) float32 and fitted points (K+1, T, 68, 2)."""
        lg = self.landmark_generator
        y0 = torch.from_numpy(lg.draw_neutral(neutral_landmarks))[None, None].to(self.device)  # (1, 1, S, S)
        pts0 = torch.from_numpy(np.array(neutral_landmarks, dtype=np.float32))[None].to(self.device)  # (1, 68, 2)
        label_t = torch.tensor([lg.label_index(label)], device=self.device)
        with self.autocast():
            out = lg.generate_batch(y0, label_t, modes, seed, neutral_points=pts0,
                                    fit_iterations=self.config.point_fit_iterations or None)
        images = out["images"][0].float().cpu().numpy()  # (K+1, T, S, S)
        return images, out["points"][0].float().cpu().numpy()  # (K+1, T, 68, 2)

    def generate_aligned(self, neutral_face: np.ndarray, neutral_landmarks: np.ndarray, label: str | int,
                         modes: int | None = None, seed: int = 0) -> GenerationResult:
        """K + 1 sequences from an aligned (S, S, 3) uint8 neutral face and its (68, 2) aligned landmarks."""
        name, k = self.check_request(label, modes)
        face = np.asarray(neutral_face)
        pts0 = np.asarray(neutral_landmarks, dtype=np.float32)
        s = self.image_size
        if face.shape != (s, s, 3) or face.dtype != np.uint8:
            raise CmmnetError(f"neutral face must be ({s}, {s}, 3) uint8, got {face.shape} {face.dtype}")
        if pts0.shape != (68, 2):
            raise CmmnetError(f"neutral landmarks must be (68, 2), got {pts0.shape}")
        decoded, points = self.landmark_sequences(pts0, name, k, seed)  # (K+1, T, S, S), (K+1, T, 68, 2)
        mode = self.config.landmark_input
        if mode == "decoded":
            images = decoded
        else:
            if mode == "retargeted":
                points = pts0[None, None] + (points - points[:, :1])  # (K+1, T, 68, 2)
            images = np.stack([[draw_landmarks(p, s, self.config.draw) for p in seq] for seq in points])
            images = images.astype(np.float32)  # (K+1, T, S, S)
        n_seq, T = images.shape[:2]
        frames = self.translate(images.reshape(n_seq * T, s, s), face, points.reshape(n_seq * T, 68, 2), pts0)
        frames = frames.reshape(n_seq, T, s, s, 3)
        reference = self.translate(draw_landmarks(pts0, s, self.config.draw)[None].astype(np.float32), face,
                                   pts0[None], pts0)[0]
        return GenerationResult(name, int(seed), frames, images, points, face, pts0, reference)

    def _detector_instance(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.config.front_end.detector)
        return self._detector

    def align(self, image: str | Path | np.ndarray) -> tuple[AlignedFace, int, np.ndarray]:
        """Detect the largest face of a photo (path or (H, W, 3) uint8) and align it: ``(aligned, n_faces, box)``;
        ``aligned.transform`` maps the photo's (file) pixels to aligned pixels."""
        if isinstance(image, (str, Path)):
            res = process_image(image, self.config.front_end, detector=self._detector_instance())
            return res.aligned, res.face.n_faces, res.face.box
        arr = np.asarray(image)
        if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8:
            raise CmmnetError(f"image must be a path or an (H, W, 3) uint8 array, got {arr.shape} {arr.dtype}")
        face = self._detector_instance().detect(arr)
        return align_face(arr, face.landmarks, self.config.front_end.align), face.n_faces, face.box

    def generate(self, image: str | Path | np.ndarray, label: str | int, modes: int | None = None,
                 seed: int = 0) -> GenerationResult:
        """K + 1 smile sequences of the person in ``image`` (path or (H, W, 3) uint8 RGB); the largest face is
        used (a warning is logged when there are several)."""
        self.check_request(label, modes)  # fail before the face front end
        return self.generate_detected(*self.align(image), label, modes, seed)

    def generate_detected(self, aligned: AlignedFace, n_faces: int, box: np.ndarray, label: str | int,
                          modes: int | None = None, seed: int = 0) -> GenerationResult:
        """:meth:`generate` from what :meth:`align` returned for a photo (the face front end run elsewhere)."""
        res = self.generate_aligned(aligned.image, aligned.landmarks, label, modes, seed)
        res.transform, res.n_faces, res.box = aligned.transform, int(n_faces), np.asarray(box)
        return res

    def paste(self, result: GenerationResult, photo: np.ndarray) -> np.ndarray:
        """Map each sequence back into the original ``photo`` (inverse alignment + feathered blending,
        :mod:`cmmnet.faces.paste`): (K+1, T, H', W', 3) uint8, H', W' the photo's size (capped at
        ``PasteConfig.max_side``)."""
        from .faces.paste import paste_frames

        if result.transform is None:
            raise CmmnetError("paste needs a result of generate() on a photo (aligned input has no transform)")
        return np.stack([paste_frames(photo, seq, result.transform, result.points[i], result.reference,
                                      self.config.paste) for i, seq in enumerate(result.frames)])


__all__ = ["AlignConfig", "CMMNet", "GenerateConfig", "GenerationResult", "MAX_MODES", "default_weights_dir"]
