"""Inference: one neutral photo and a label in, K + 1 smile videos of that person out (the whole of CMM-Net).

photo -> face front end (:mod:`cmmnet.generate.front_end`: dlib detection, 68 landmarks, alignment as the
translator's training faces) -> neutral aligned landmarks -> :meth:`CMMNet.landmark_batch` (the landmark generator's
conditional LSTM + K mode LSTMs, §3.2-3.3, batched) -> one landmark image per frame -> the U-Net G of §3.4
(``w_t = G(y_t, z_0)``) -> frames.

The weights describe their own preprocessing: each part's config records the alignment (size, eye placement) and
the landmark drawing it was trained with (and the landmark generator T, K, the label names and the frame rate), so
the front end aligns as the translator's faces were, and a landmark generator trained at another face size is
paired through the alignment geometry (:func:`cmmnet.faces.between_alignments`: its points are mapped between the
two aligned frames of the same photo).

Which landmark images G sees is :attr:`GenerateConfig.landmark_input` (the paper feeds the VAE decoder's output,
§3.4; see docs/translation.md for the choice):

- ``retargeted`` (default): the generated motion applied to the person's own landmarks,
  ``p_t' = p_neutral + (p_t - p_0)``, redrawn with :func:`draw_landmarks`: G sees binary images exactly like those it
  was trained on, and frame 0 is the person's own face shape (identity is kept; the landmark generator's small
  error in reproducing the neutral shape cancels out).
- ``redrawn``: the points fitted from the decoded images, redrawn as they are.
- ``decoded``: the VAE decoder's soft images themselves (the paper's wiring; both parts at one alignment).

Between the landmark generator and G, the timing step (:mod:`cmmnet.generate.timing`, :class:`TimingConfig`)
scales the motion (``intensity``) and resamples the T generated frames to the video's length and frame rate (by
default real speed, neutral -> smile -> hold -> neutral), so every renderer gets the same clip.

A translator trained with ``UNetConfig.face_input = "warped"`` (not the shipped one) gets, instead of ``z_0``,
the neutral face TPS-warped onto each frame's points, ``GenerationResult.points`` (:mod:`cmmnet.models.warp`).

Inference only: no optimisers, no training code. Models run in ``eval`` mode on ``GenerateConfig.device``, with
bf16 autocast when ``precision`` resolves to ``bf16`` (:mod:`cmmnet.runtime`).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np
import torch
from PIL import Image

from ..errors import CheckpointError, CmmnetError
from ..faces import AlignedFace, FaceDetector, between_alignments, draw_landmarks
from ..faces.align import align_frames, invert_transform, transform_points
from ..faces.image_io import check_image_array, read_image_scaled
from ..faces.pipeline import FrontEndConfig, detect_array, detect_image, rescale_transform, upright
from ..limits import MAX_VIDEO_SIDE, check_modes_range, check_seed
from ..models.io import load_pretrained, load_pretrained_defaulted, read_model_index, weights_hash
from ..models.landmark_generator import CLASS_NAME as LANDMARK_CLASS
from ..models.landmark_generator import LandmarkGenerator, LandmarkGeneratorConfig
from ..models.refiner import RefinerConfig, RefinerNet
from ..models.unet import UNetConfig, UNetGenerator
from ..runtime import autocast, choose_device, choose_precision, emulated_bf16_warning
from .config import GenerateConfig, Renderer
from .timing import TimingConfig, retime, source_times

if TYPE_CHECKING:
    from ..render import WarpVideo
    from .front_end import FaceFrontEnd
    from .outputs import OutputConfig

log = logging.getLogger(__name__)
M = TypeVar("M", bound=torch.nn.Module)

LANDMARK_DIR = "landmark_generator"  # the parts' directories in run directories without a model_index.json
TRANSLATOR_DIR = "translator"
TRANSLATOR_CLASS = "UNetGenerator"
REFINER_CLASS = "RefinerNet"  # the warp renderer's refinement network R: optional, found by class in model_index.json


def default_weights_dir() -> Path:
    """The weights shipped inside the package: ``cmmnet/assets/weights/`` (model_index.json names the parts)."""
    return Path(str(resources.files("cmmnet") / "assets" / "weights"))


def part_dirs(base: Path) -> dict[str, str]:
    """``{"landmark_generator": subdirectory, "translator": subdirectory}`` of a weights directory: as its
    ``model_index.json`` names them (by class), else the fixed names older run directories use."""
    return _part_dirs(_dirs_by_class(base))


def _dirs_by_class(base: Path) -> dict[str, str]:
    """``model_index.json``'s parts as {class name: subdirectory} (empty without one)."""
    return {c: d for d, c in read_model_index(base).items()}


def _part_dirs(by_class: dict[str, str]) -> dict[str, str]:
    return {LANDMARK_DIR: by_class.get(LANDMARK_CLASS, LANDMARK_DIR),
            TRANSLATOR_DIR: by_class.get(TRANSLATOR_CLASS, TRANSLATOR_DIR)}


@dataclass
class GenerationResult:
    """K + 1 generated sequences of one person. Row 0 = the conditional LSTM, rows 1..K = the modes."""

    label: str
    seed: int
    _frames: np.ndarray | None  # the generated faces (:attr:`frames`); None: made from ``video`` when first read
    landmark_images: np.ndarray  # (K+1, N, S, S) float32 in [0, 1]: what G was fed
    points: np.ndarray  # (K+1, N, 68, 2) float32 aligned px (the drawn points; fitted ones for `decoded`)
    neutral_face: np.ndarray  # (S, S, 3) uint8 aligned input face z_0
    neutral_landmarks: np.ndarray  # (68, 2) float32 aligned px
    reference: np.ndarray  # (S, S, 3) uint8: G's rendering of the neutral face (`paste` mode "delta"; warp: z_0)
    transform: np.ndarray | None = None  # (2, 3) input-image pixels -> aligned pixels (None for aligned input)
    n_faces: int = 1  # faces found in the photo (the largest was used)
    box: np.ndarray | None = None  # (4,) face box in input-image pixels
    rotation: int = 0  # quarter turns (np.rot90) after which the photo's face was upright; its pixels are those
    # of the photo so turned (cmmnet.faces.pipeline.upright)
    renderer: str = "paper"  # what made the frames (GenerateConfig.renderer)
    video: WarpVideo | None = None  # (K+1, N, H, W, 3) uint8, rendered when read: the whole photo (warp renderer
    # on a photo); np.asarray(video) for the array
    video_transform: np.ndarray | None = None  # (2, 3) video pixels -> aligned pixels
    timing: TimingConfig = field(default_factory=TimingConfig)  # how the T generated frames became these
    times: np.ndarray | None = None  # (N,) the generated frame (0 .. T-1, fractional) each frame shows

    @property
    def frames(self) -> np.ndarray:
        """(K+1, N, S, S, 3) uint8 generated faces; the warp renderer's on a photo: its frames aligned at S (made
        when first read: writing the videos does not need them)."""
        if self._frames is None:
            assert self.video is not None and self.video_transform is not None
            s = self.neutral_face.shape[0]
            aligned = np.stack([align_frames(self.video.frame_of_shape(u)[None], self.video_transform, s)[0]
                                for u in range(len(self.video.shapes))])  # (U, S, S, 3)
            self._frames = aligned[self.video.which]  # (K+1, N, S, S, 3)
        return self._frames

    @property
    def modes(self) -> int:
        return int(self.points.shape[0]) - 1

    @property
    def fps(self) -> int:
        """The videos' frame rate."""
        return self.timing.fps

    def save(self, directory: str | Path, config: OutputConfig | None = None) -> dict:
        """Write the videos, landmarks, contact sheet and ``meta.json`` into ``directory`` (as ``cmmnet generate``
        does, atomically); returns the meta dict."""
        from .outputs import save_result

        return save_result(self, Path(directory), config)

    def write_video(self, path: str | Path, sequence: int = 0, config: OutputConfig | None = None) -> Path:
        """One sequence (0 = conditional, k = mode k) as an H.264 file at :attr:`fps`."""
        from .outputs import write_sequence

        return write_sequence(self, sequence, Path(path), config)


@dataclass
class LandmarkBatch:
    """The landmark generator's sequences for B neutral faces, in the translator's aligned pixels."""

    decoded: np.ndarray | None  # (B, K+1, T, s, s) float32: the VAE decoder's images (landmark generator's size s);
    # None where nothing needs them (a linear point read-out and landmark_input other than "decoded")
    fitted: np.ndarray  # (B, K+1, T, 68, 2) float32: the points fitted to them
    neutral: np.ndarray  # (B, 68, 2) float32: the neutral landmarks


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


class CMMNet:
    """The trained CMM-Net: a :class:`LandmarkGenerator` and the translator G (a :class:`UNetGenerator`), and
    optionally the warp renderer's refinement network R (a :class:`RefinerNet`, not in the paper)."""

    def __init__(self, landmark_generator: LandmarkGenerator, translator: UNetGenerator,
                 config: GenerateConfig | None = None, weights: dict | None = None, refiner: RefinerNet | None = None):
        self.config = config or GenerateConfig()
        self.device = choose_device(self.config.device)
        self.precision = choose_precision(self.config.precision, self.device)
        if warning := emulated_bf16_warning(self.precision, self.device):
            log.warning(warning)
        self.landmark_generator = fold_batch_norm(landmark_generator).to(self.device)
        # batch norm folded into the convolutions (eval statistics: same output, fewer passes) and channels-last
        # (oneDNN's convolutions, transposed ones above all, run faster on CPU in NHWC)
        self.translator = fold_batch_norm(translator.eval()).to(self.device, memory_format=torch.channels_last)
        lg, tr = landmark_generator.cfg, translator.cfg
        self.front_end = FrontEndConfig(self.config.detector, tr.align, tr.draw)  # as G's training faces
        self.image_size = int(tr.image_size)
        self.T = int(lg.T)
        self.trained_modes = int(lg.modes)
        self.label_names = tuple(lg.label_names)
        self.fps = float(lg.fps)
        self.refiner = None if refiner is None else refiner.eval()  # on the CPU, as the warp renderer runs
        self.weights = dict(weights or {})  # provenance: {"landmark_generator": hash, "translator": hash, "dir": ...}
        # the landmark generator's aligned frame <-> the translator's (None: the same alignment)
        same = lg.align == tr.align
        self._to_landmark_frame = None if same else between_alignments(tr.align, lg.align)
        self._from_landmark_frame = None if same else between_alignments(lg.align, tr.align)
        if not same and self.config.landmark_input == "decoded":
            raise CheckpointError(f"landmark_input 'decoded' feeds the landmark generator's {lg.image_size}px images "
                                  f"to a translator aligned otherwise ({tr.align}); use 'retargeted' or 'redrawn'")
        if lg.draw != tr.draw and self.config.landmark_input == "decoded":
            raise CheckpointError(f"landmark_input 'decoded' feeds the landmark generator's images, drawn {lg.draw}, "
                                  f"to a translator trained on images drawn {tr.draw}; use 'retargeted' or 'redrawn'")
        self._detector: FaceDetector | None = None

    # ------------------------------------------------------------------------------------------------ loading
    @classmethod
    def from_pretrained(cls, path: str | Path | None = None, config: GenerateConfig | None = None) -> CMMNet:
        """Load a weights directory: its ``model_index.json`` names the landmark generator's and the translator's
        subdirectories (without one, ``landmark_generator/`` and ``translator/``, as older run directories have);
        ``None`` = the default weights shipped with the package. ``weights["defaulted_keys"]`` lists, per part, the
        config keys its config.json lacks (they took today's defaults)."""
        base = default_weights_dir() if path is None else Path(path)
        what = "the default weights (reinstall cmmnet)" if path is None else f"{base}"
        if not base.is_dir():
            raise CheckpointError(f"{what}: weights directory not found; pass --weights RUN_DIR with "
                                  f"{LANDMARK_DIR}/ and {TRANSLATOR_DIR}/")
        by_class = _dirs_by_class(base)
        dirs = _part_dirs(by_class)
        for sub in dirs.values():
            if not (base / sub).is_dir():
                raise CheckpointError(f"{base}: no {sub}/ inside; expected a run directory from `cmmnet train` "
                                      f"(with {LANDMARK_DIR}/ and {TRANSLATOR_DIR}/)")
        lm, _, lm_defaulted = load_pretrained_defaulted(LandmarkGenerator, LandmarkGeneratorConfig,
                                                        base / dirs[LANDMARK_DIR], LANDMARK_CLASS)
        g, _, g_defaulted = load_pretrained_defaulted(UNetGenerator, UNetConfig, base / dirs[TRANSLATOR_DIR],
                                                      TRANSLATOR_CLASS)
        weights = {"dir": str(base.resolve()), **{role: weights_hash(base / d) for role, d in dirs.items()},
                   "parts": dirs,
                   "defaulted_keys": {LANDMARK_DIR: list(lm_defaulted), TRANSLATOR_DIR: list(g_defaulted)}}
        config = config or GenerateConfig()
        refiner_dir = by_class.get(REFINER_CLASS)
        refiner = None
        # optional: weights without R render the plain warp, and R is not loaded when refinement is off
        if refiner_dir is not None and config.render.refine == "on":
            refiner, _ = load_pretrained(RefinerNet, RefinerConfig, base / refiner_dir, REFINER_CLASS)
            weights["refiner"] = weights_hash(base / refiner_dir)
        return cls(lm, g, config, weights, refiner)  # type: ignore[arg-type]

    def with_renderer(self, renderer: Renderer) -> CMMNet:
        """The same loaded networks drawing with another renderer (the page's per-request choice)."""
        other = copy.copy(self)
        other.config = replace(self.config, renderer=renderer)
        return other

    # ------------------------------------------------------------------------------------------------ checks
    def check_request(self, label: str | int, modes: int | None) -> tuple[str, int]:
        """Validate a label and a mode count against these weights; returns ``(label name, K)``."""
        name = self.label_names[self.landmark_generator.label_index(label)]
        k = self.trained_modes if modes is None else check_modes_range(modes)  # an int (2.7 is refused)
        if k > self.trained_modes:
            raise CmmnetError(f"--modes {k}: these weights were trained with K = {self.trained_modes} modes; "
                              f"use --modes {self.trained_modes} or less")
        return name, k

    # ------------------------------------------------------------------------------------------------ running
    def autocast(self):
        return autocast(self.device, self.precision)

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

    def landmark_batch(self, neutral_landmarks: np.ndarray, labels: list[str | int], modes: int,
                       seed: int) -> LandmarkBatch:
        """The one batched landmark path: neutral landmarks (B, 68, 2) in the translator's aligned pixels and a
        label each -> :class:`LandmarkBatch` (:meth:`LandmarkGenerator.generate_many`, its networks under bf16
        autocast when asked, in its own aligned frame; the points mapped back to the translator's)."""
        neutral = np.asarray(neutral_landmarks, dtype=np.float32)  # (B, 68, 2)
        lg_neutral = neutral if self._to_landmark_frame is None else \
            transform_points(neutral, self._to_landmark_frame).astype(np.float32)
        with self.autocast():
            out = self.landmark_generator.generate_many(lg_neutral, labels, modes, seed,
                                                        fit_iterations=self.config.point_fit_iterations or None,
                                                        decode=self.config.landmark_input == "decoded")
        fitted = out["points"]  # (B, K+1, T, 68, 2)
        if self._from_landmark_frame is not None:
            fitted = transform_points(fitted, self._from_landmark_frame).astype(np.float32)
        return LandmarkBatch(out.get("images"), fitted, neutral)

    def _retime(self, seq: np.ndarray, timing: TimingConfig | None, kind: Literal["points", "images"]) -> np.ndarray:
        """The timing step on (B, R, T, ...) sequences -> (B, R, N, ...); ``None``: as generated."""
        if timing is None:
            return seq
        b, r = seq.shape[:2]
        out, _ = retime(seq.reshape(b * r, *seq.shape[2:]), self.fps, timing, kind)  # (B R, N, ...)
        return out.reshape(b, r, *out.shape[1:])

    def translator_inputs(self, batch: LandmarkBatch, rows: slice = slice(None),
                          timing: TimingConfig | None = None) -> tuple[np.ndarray, np.ndarray]:
        """What G is fed for ``rows`` of each sequence set, per :attr:`GenerateConfig.landmark_input`: landmark
        images (B, R, N, S, S) float32 and their points (B, R, N, 68, 2) (see the module doc), after the timing
        step ``timing`` (``None``: the N = T generated frames as they are, as evaluation scores them)."""
        fitted = batch.fitted[:, rows]  # (B, R, T, 68, 2)
        mode = self.config.landmark_input
        if mode == "decoded":
            assert batch.decoded is not None  # landmark_batch decodes for this mode
            return self._retime(batch.decoded[:, rows], timing, "images"), self._retime(fitted, timing, "points")
        points = batch.neutral[:, None, None] + (fitted - fitted[:, :, :1]) if mode == "retargeted" else fitted
        points = self._retime(points, timing, "points")  # (B, R, N, 68, 2)
        from ..render.renderer import distinct_rows

        s, draw = self.image_size, self.front_end.draw
        flat = points.reshape(-1, 68, 2)  # (B R N, 68, 2)
        first, which = distinct_rows(flat.reshape(len(flat), -1))  # each distinct shape drawn once
        images = np.stack([draw_landmarks(p, s, draw) for p in flat[first]])[which]  # (B R N, S, S)
        return images.reshape(*points.shape[:3], s, s).astype(np.float32), points  # (B, R, N, S, S), (B, R, N, 68, 2)

    def generate_aligned(self, neutral_face: np.ndarray, neutral_landmarks: np.ndarray, label: str | int,
                         modes: int | None = None, seed: int = 0,
                         timing: TimingConfig | None = None) -> GenerationResult:
        """K + 1 sequences from an aligned (S, S, 3) uint8 neutral face and its (68, 2) aligned landmarks."""
        name, k = self.check_request(label, modes)
        check_image_array(neutral_face, "neutral_face")
        return self._generate(neutral_face, neutral_landmarks, name, k, check_seed(seed, "seed"), timing)

    def _generate(self, neutral_face: np.ndarray, neutral_landmarks: np.ndarray, name: str, k: int, seed: int,
                  timing: TimingConfig | None, photo: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> GenerationResult:
        """The sequences, after the timing step ``timing`` (None: the default :class:`TimingConfig`) whichever
        renderer runs; ``photo``: ``(image, transform image px -> aligned px)`` the warp renderer moves (None: it
        moves the aligned face)."""
        timing = timing or TimingConfig()
        face = np.asarray(neutral_face)
        pts0 = np.asarray(neutral_landmarks, dtype=np.float32)
        s = self.image_size
        if face.shape != (s, s, 3) or face.dtype != np.uint8:
            raise CmmnetError(f"neutral face must be ({s}, {s}, 3) uint8, got {face.shape} {face.dtype}")
        if pts0.shape != (68, 2):
            raise CmmnetError(f"neutral landmarks must be (68, 2), got {pts0.shape}")
        batch = self.landmark_batch(pts0[None], [name], k, seed)
        images, points = (a[0] for a in self.translator_inputs(batch, timing=timing))
        n_seq, n = images.shape[:2]  # images (K+1, N, S, S), points (K+1, N, 68, 2)
        times = source_times(self.T, self.fps, timing)  # (N,)
        if self.config.renderer == "warp":
            if photo is None:  # the aligned face itself moves: the frames are the video
                m = np.hstack([np.eye(2), np.zeros((2, 1))])
                frames, video = self.render_warp(face, m, pts0, points), None  # (K+1, N, S, S, 3)
            else:  # the whole photo, rendered when read (GenerationResult.frames aligns it at S if asked)
                image, m = photo
                video = self.warp_video(image, m, pts0, points)  # (K+1, N, H, W, 3), composed when read
                frames = None  # GenerationResult.frames aligns the video's frames when asked for
            return GenerationResult(name, int(seed), frames, images, points, face, pts0, face, renderer="warp",
                                    video=video, video_transform=m, timing=timing, times=times)
        frames = self.translate(images.reshape(n_seq * n, s, s), face, points.reshape(n_seq * n, 68, 2), pts0)
        frames = frames.reshape(n_seq, n, s, s, 3)
        reference = self.translate(draw_landmarks(pts0, s, self.front_end.draw)[None].astype(np.float32), face,
                                   pts0[None], pts0)[0]
        return GenerationResult(name, int(seed), frames, images, points, face, pts0, reference, timing=timing,
                                times=times)

    def warp_video(self, image: np.ndarray, transform: np.ndarray, neutral_points: np.ndarray,
                   points: np.ndarray) -> WarpVideo:
        """The warp renderer (:mod:`cmmnet.render`): ``image`` (H, W, 3) uint8, whose pixels ``transform`` (2, 3)
        maps to aligned pixels, moved from its face's ``neutral_points`` (68, 2) along ``points`` (K+1, T, 68, 2)
        (aligned px) -> a :class:`cmmnet.render.WarpVideo` of shape (K+1, T, H, W, 3), rendered when read. A face
        region per sequence (each video is the same whatever the others are); the weights' refinement network R, when
        they have one and ``render.refine`` is on."""
        from ..render import WarpRenderer, WarpVideo

        to_image = invert_transform(transform)
        renderer = WarpRenderer(image, transform_points(neutral_points, to_image), self.config.render, self.refiner)
        return WarpVideo(renderer, transform_points(points, to_image))

    def render_warp(self, image: np.ndarray, transform: np.ndarray, neutral_points: np.ndarray,
                    points: np.ndarray) -> np.ndarray:
        """:meth:`warp_video` as one (K+1, T, H, W, 3) uint8 array."""
        return np.asarray(self.warp_video(image, transform, neutral_points, points))

    def video_photo(self, image: str | Path | np.ndarray, transform: np.ndarray,
                    rotation: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The photo the warp renderer moves: ``image`` (a path or (H, W, 3) uint8) turned by ``rotation`` quarter
        turns as its face was found, with its longer side capped at ``GenerateConfig.max_side`` (0: the photo's own;
        either way at most :data:`cmmnet.limits.MAX_VIDEO_SIDE`, which bounds memory), and
        ``transform`` (the turned photo's pixels -> aligned) re-expressed in the capped photo's pixels."""
        cap = min(self.config.max_side or MAX_VIDEO_SIDE, MAX_VIDEO_SIDE)
        if isinstance(image, (str, Path)):
            arr, scale = read_image_scaled(image, cap)
        else:
            arr, scale = np.asarray(image), 1.0
            if max(arr.shape[:2]) > cap:
                small = Image.fromarray(arr)
                small.thumbnail((cap, cap), Image.Resampling.LANCZOS)
                arr, scale = np.asarray(small), arr.shape[1] / small.width
        return upright(arr, rotation), rescale_transform(transform, 1.0 / scale)

    def _detector_instance(self) -> FaceDetector:
        if self._detector is None:
            self._detector = FaceDetector(self.config.detector)
        return self._detector

    def align(self, image: str | Path | np.ndarray) -> tuple[AlignedFace, int, np.ndarray, int]:
        """Detect the largest face of a photo (path or (H, W, 3) uint8) and align it as the translator's training
        faces were: ``(aligned, n_faces, box, rotation)``; ``aligned.transform`` maps the photo's (file) pixels,
        turned by ``rotation`` quarter turns when the face was not upright, to aligned pixels."""
        if isinstance(image, (str, Path)):
            det = detect_image(image, self.config.detector, self._detector_instance())
        else:
            det = detect_array(image, self.config.detector, self._detector_instance())
        return det.align(self.front_end.align), det.face.n_faces, det.face.box, det.rotation

    def generate(self, image: str | Path | np.ndarray, label: str | int, modes: int | None = None,
                 seed: int = 0, front_end: FaceFrontEnd | None = None,
                 timing: TimingConfig | None = None) -> GenerationResult:
        """K + 1 smile sequences of the person in ``image`` (path or (H, W, 3) uint8 RGB); the largest face is
        used (a warning is logged when there are several). ``front_end``: the face front end already started on
        ``image`` (:class:`cmmnet.generate.front_end.FaceFrontEnd`), used when it detects as this net does.
        ``timing``: intensity, length, frame rate and ending of the clips (default :class:`TimingConfig`: real
        speed, neutral -> smile -> neutral, about 2 s at 25 fps)."""
        name, k = self.check_request(label, modes)  # fail before the face front end
        seed = check_seed(seed, "seed")
        if front_end is not None and front_end.config.detector == self.config.detector:
            aligned, n_faces, box, rotation = front_end.result(self.front_end.align)
        else:
            aligned, n_faces, box, rotation = self.align(image)
        photo = self.video_photo(image, aligned.transform, rotation) if self.config.renderer == "warp" else None
        res = self._generate(aligned.image, aligned.landmarks, name, k, seed, timing, photo)
        res.transform, res.n_faces, res.box = aligned.transform, int(n_faces), np.asarray(box)
        res.rotation = int(rotation)
        return res

    def paste(self, result: GenerationResult, photo: np.ndarray) -> np.ndarray:
        """Map each sequence back into the original ``photo`` (inverse alignment + feathered blending,
        :mod:`cmmnet.faces.paste`): (K+1, T, H', W', 3) uint8, H', W' the photo's size (capped at
        ``PasteConfig.max_side``)."""
        return np.stack([np.stack(list(self.paste_sequence(result, photo, i))) for i in range(len(result.frames))])

    def paste_sequence(self, result: GenerationResult, photo: np.ndarray, index: int,
                       scale: float = 1.0) -> Iterator[np.ndarray]:
        """Sequence ``index`` pasted into ``photo``, frame by frame ((H', W', 3) uint8 each); ``photo`` may be a
        copy of the input photo downscaled by ``scale`` (input pixels per copy pixel, as
        :func:`cmmnet.faces.read_image_scaled` returns) and is used turned as the face was found
        (``result.rotation``)."""
        from ..faces.paste import iter_pasted
        from ..faces.pipeline import rescale_transform, upright

        if result.transform is None:
            raise CmmnetError("paste needs a result of generate() on a photo (aligned input has no transform)")
        photo = upright(check_image_array(photo, "photo"), result.rotation)
        m = rescale_transform(result.transform, 1.0 / scale)  # copy pixels -> aligned
        return iter_pasted(photo, result.frames[index], m, result.points[index], result.reference,
                           self.config.paste)
