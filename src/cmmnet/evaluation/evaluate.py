"""`cmmnet evaluate`: generate the test split with every method, compute the metrics of §4.3, cache the results.

For each test sequence n (neutral frame ``faces[n, 0]``, its landmarks, its label) each method generates a video
of T frames; per label, the report gets (Table 1) SSIM to the real video and, with an Inception file, IS and
ΔIS = |IS(generated) - IS(real)|; (Fig. 8 / Table 3) the mean AU6 / AU12 curves (landmarks measured on the frames
by :class:`~cmmnet.evaluation.landmarks.FrameLandmarks`, 5-frame smoothing) and their cumulative distance to the
real curves; the dlib identity distance of the last frame to the neutral input; for CMM-Net also the mode
diversity and, where the dataset knows hidden styles, the mode-vs-style agreement.

Results are cached in ``REPORT/cache/`` under a key of (method weights hash, for CMM-Net with its renderers' settings,
dataset.json hash, evaluation config, Inception weights hash): re-running on the same runs and data reads them back
instead of generating again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import to_dict
from ..data.format import SmileDataset
from ..errors import CmmnetError
from ..io import atomic_write_text
from ..training.run import progress
from .landmarks import FrameLandmarks, FrameLandmarksConfig
from .methods import Method, video_name
from .metrics import DLIB_SAME_PERSON
from .registry import compute_metric

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluateConfig:
    batch_size: int = 16  # test sequences generated at once
    seed: int = 0  # generation seed (noise, sampling)
    au_window: int = 5  # §4.3: AU curves smoothed with a 5-frame window
    is_splits: int = 10  # the usual Inception Score splits
    is_frames: int = 0  # frames per video scored by Inception (evenly spaced); 0 = all T (the paper)
    identity_frame: int = -1  # frame compared with the neutral input by dlib's descriptor (-1 = the last, apex)
    max_sequences: int = 0  # 0 = the whole test split; N = its first N sequences (quick looks)
    mode_sequences: int = 48  # CMM-Net: test sequences whose K modes are generated for the mode metrics; 0 = all
    videos_per_label: int = 20  # test videos per label written to REPORT/videos/<method>/<label>/ (>= 37 pairs)
    # frame rate of those videos: the T generated frames (0.62 s at FRL-Smile's 50 fps) played slower, for raters
    video_fps: float = 16.0
    device: str = "cpu"
    landmarks: FrameLandmarksConfig = field(default_factory=FrameLandmarksConfig)


def dataset_key(data: SmileDataset) -> str:
    return hashlib.sha256((Path(data.path) / "dataset.json").read_bytes()).hexdigest()[:16]


class Evaluator:
    """Holds the test split, the real-data references, and computes one method's results (cached)."""

    def __init__(self, data: SmileDataset, cfg: EvaluateConfig, cache_dir: Path, inception_path: Path | None = None):
        self.cfg = cfg
        self.test = data.subset("test")
        if len(self.test) == 0:
            raise CmmnetError(f"{data.path}: the dataset has no test sequences")
        if cfg.max_sequences > 0:
            self.test = self.test.subset(np.arange(min(cfg.max_sequences, len(self.test))))
        self.rows = self.test.index
        self.labels = [data.label_names[int(i)] for i in np.asarray(data.arrays["labels"])[self.rows]]
        self.label_names = [x for x in data.label_names if x in self.labels]
        self.data = data
        self.cache_dir = cache_dir
        self.inception = None
        self.inception_hash = None
        if inception_path is not None:
            from ..models.inception import load_inception

            self.inception = load_inception(inception_path).to(cfg.device)
            self.inception_hash = hashlib.sha256(Path(inception_path).read_bytes()).hexdigest()[:16]
        self.tracker = FrameLandmarks(cfg.landmarks)
        settings = {k: v for k, v in to_dict(cfg).items() if k not in ("batch_size", "videos_per_label", "video_fps")}
        self.key_base = {"dataset": dataset_key(data), "config": settings, "inception": self.inception_hash}
        self._boxes: list[np.ndarray] | None = None
        self._refs: dict[int, np.ndarray] = {}

    # -- helpers
    def _real(self, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
        rows = self.rows[i:j]
        return np.asarray(self.data.arrays["faces"][rows]), np.asarray(self.data.arrays["landmarks"][rows])

    def boxes(self) -> list[np.ndarray]:
        if self._boxes is None:
            faces0 = np.asarray(self.data.arrays["faces"][self.rows, 0])
            lm0 = np.asarray(self.data.arrays["landmarks"][self.rows, 0])
            self._boxes = [self.tracker.box(f, p) for f, p in zip(faces0, lm0)]
        return self._boxes

    def _reference_descriptors(self, model, i: int, real: np.ndarray, real_lm: np.ndarray) -> list[np.ndarray]:
        """dlib descriptors of the real neutral frames of sequences i, i+1, ... (computed once per sequence)."""
        out = []
        for k, (r, rl) in enumerate(zip(real, real_lm)):
            if i + k not in self._refs:
                self._refs[i + k] = model(r[0], rl[0])
            out.append(self._refs[i + k])
        return out

    def _is_frames(self, videos: np.ndarray) -> np.ndarray:
        t = videos.shape[1]
        k = self.cfg.is_frames
        idx = np.arange(t) if k <= 0 or k >= t else np.unique(np.linspace(0, t - 1, k).round().astype(int))
        return videos[:, idx].reshape(-1, *videos.shape[2:])  # (N * k, 3, S, S)

    def _probs(self, videos: np.ndarray) -> np.ndarray | None:
        if self.inception is None:
            return None
        from ..models.inception import class_probs

        return class_probs(self.inception, self._is_frames(videos), device=self.cfg.device).double().numpy()

    def _cache(self, name: str, key: dict[str, Any]) -> Path:
        h = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return self.cache_dir / f"{name}-{h}.json"

    # -- per-video measurements (streamed over batches)
    def _measure(self, desc: str, produce) -> dict[str, Any]:
        """Run ``produce(i, j) -> (videos, modes)`` over the test split in batches; collect measurements."""
        n, bs = len(self.rows), self.cfg.batch_size
        per: dict[str, list] = {"ssim": [], "landmarks": [], "identity": [], "probs": [], "modes": []}
        desc_model = None
        boxes = self.boxes()
        for i in progress(range(0, n, bs), desc=desc, total=-(-n // bs), unit="batch"):
            j = min(n, i + bs)
            real, real_lm = self._real(i, j)
            videos, modes = produce(i, j, real, real_lm)
            if videos.shape != real.shape:
                raise CmmnetError(f"{desc}: generates videos of shape {videos.shape[1:]}, the dataset has "
                                  f"{real.shape[1:]}; evaluate on the dataset the run was trained on")
            bt = videos.shape[0] * videos.shape[1]
            from .metrics import FaceDescriptor, ssim_frames

            per["ssim"].append(ssim_frames(videos.reshape(bt, *videos.shape[2:]), real.reshape(bt, *real.shape[2:]))
                               .reshape(videos.shape[:2]).mean(1))
            lms = np.stack([self.tracker(v, boxes[i + k]) for k, v in enumerate(videos)])  # (B, T, 68, 2)
            per["landmarks"].append(lms)
            desc_model = desc_model or FaceDescriptor()
            t = self.cfg.identity_frame
            refs = self._reference_descriptors(desc_model, i, real, real_lm)
            per["identity"].append([np.linalg.norm(desc_model(v[t], lm[t]) - ref)
                                    for v, lm, ref in zip(videos, lms, refs)])
            p = self._probs(videos)
            if p is not None:
                per["probs"].append(p.reshape(len(videos), -1, p.shape[-1]))
            if modes is not None and len(modes):
                per["modes"].append(modes)
        out = {"ssim": np.concatenate(per["ssim"]), "landmarks": np.concatenate(per["landmarks"]),
               "identity": np.concatenate([np.asarray(x, float) for x in per["identity"]])}
        out["probs"] = np.concatenate(per["probs"]) if per["probs"] else None
        out["modes"] = np.concatenate(per["modes"]) if per["modes"] else None
        return out

    def _summarise(self, m: dict[str, Any]) -> dict[str, Any]:
        """Per-label metrics from per-video measurements (curves as lists, for JSON)."""
        labels = np.array(self.labels)
        res: dict[str, Any] = {"labels": {}}
        for label in self.label_names:
            sel = labels == label
            r: dict[str, Any] = {"n": int(sel.sum()), "ssim": float(m["ssim"][sel].mean()),
                                 "ssim_std": float(m["ssim"][sel].std())}
            curves = compute_metric("au_curves", landmarks=m["landmarks"][sel], window=self.cfg.au_window)
            r["curves"] = {k: v.tolist() for k, v in curves.items()}
            ident = m["identity"][sel]
            r["identity_distance"] = float(ident.mean())
            r["identity_same"] = float((ident < DLIB_SAME_PERSON).mean())
            if m["probs"] is not None:
                p = m["probs"][sel].reshape(-1, m["probs"].shape[-1])
                r.update(compute_metric("inception_score", probs=p, splits=self.cfg.is_splits))
            res["labels"][label] = r
        if m["modes"] is not None:
            modes = m["modes"] - m["modes"][:, :, :1]  # motion relative to frame 0, (N, K, T, 68, 2)
            res.update(compute_metric("mode_diversity", modes=modes))
            res["mode_sequences"] = len(modes)
            styles = np.asarray(self.data.arrays["styles"])[self.rows]
            if (styles >= 0).all() and len(set(styles.tolist())) > 1:
                real = np.asarray(self.data.arrays["landmarks"][self.rows], np.float64)
                real = real - real[:, :1]  # motion of every real test sequence
                protos = np.stack([real[styles == s].mean(0) for s in sorted(set(styles.tolist()))])
                res.update(compute_metric("mode_style_agreement", modes=modes, style_prototypes=protos))
        return res

    # -- public
    def real(self) -> dict[str, Any]:
        """The real test videos measured like a method's ("Original" in Table 1)."""
        path = self._cache("original", {**self.key_base, "method": "original"})
        if path.is_file():
            return json.loads(path.read_text())
        res = self._summarise(self._measure("original", lambda i, j, real, lm: (real, None)))
        res["name"] = "Original"
        atomic_write_text(path, json.dumps(res) + "\n")
        return res

    def method(self, method: Method, videos_out: Path | None = None) -> dict[str, Any]:
        method.check_labels(self.label_names)
        path = self._cache(method.slug, {**self.key_base, "method": method.name, "weights": method.key})
        if path.is_file():
            log.info("%s (%s): cached results %s", method.name, method.run, path)
            return json.loads(path.read_text())
        written: dict[str, int] = {}

        def produce(i, j, real, lm):
            limit = len(self.rows) if self.cfg.mode_sequences <= 0 else self.cfg.mode_sequences
            videos, modes = method.generate(real[:, 0], lm[:, 0], self.labels[i:j], self.cfg.seed,
                                            modes_for=max(0, min(j, limit) - i))
            if videos_out is not None:
                self._write_videos(videos, range(i, j), videos_out / method.slug, written)
            return videos, modes

        res = self._summarise(self._measure(method.name, produce))
        res.update({"name": method.name, "run": str(method.run), "weights": method.key})
        atomic_write_text(path, json.dumps(res) + "\n")
        return res

    def _write_videos(self, videos: np.ndarray, positions, out: Path, written: dict[str, int]) -> None:
        from ..video import write_video

        for v, pos in zip(videos, positions):
            label = self.labels[pos]
            if written.get(label, 0) >= self.cfg.videos_per_label:
                continue
            written[label] = written.get(label, 0) + 1
            write_video(out / label / video_name(self.data, self.rows[pos]), v.transpose(0, 2, 3, 1),
                        fps=self.cfg.video_fps)
