"""Where a generated smile loses realism, stage by stage, in the units of :mod:`cmmnet.evaluation.smile_measures`.

For the test people of a dataset, each with a real neutral and a real smiling photo:

1. ``data``: the dataset's own sequences, apex (widest mouth) against the person's real smile, per hidden style.
2. ``read_points``: the real shapes drawn as landmark images and read back by the shape-model fit
   (:class:`cmmnet.models.point_model.PointModel`), no network.
3. ``vae_round_trip``: drawn, encoded (the encoder's mean), decoded and read back as generation reads points
   (``readout="fit"``: decoded image + shape-model fit; ``"linear"``: the read-out of the embedding).
4. ``generation``: the conditional LSTM and the K modes (:meth:`LandmarkGenerator.generate_many`), read back and
   retargeted onto the person (the generated motion added to the person's own neutral landmarks, as
   ``cmmnet generate`` draws them), then :func:`smile_measures.generation_measures`.

Stages 2 and 3 report the neutral and the smiling shape read back and the smile's displacement (the retargeted
read-back smile ``neutral + read(smile) - read(neutral)``), each the median canonical RMS to the real shape; stage 3
also how the smile's jaw points err along the drawn contour and across it (:func:`along_contour`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data.format import SmileDataset
from ..faces import read_image
from ..faces.pipeline import process_image
from ..models.landmark_generator import LandmarkGenerator
from . import smile_measures as sm


@dataclass(frozen=True)
class Person:
    name: str
    neutral: np.ndarray  # (68, 2) aligned px of the generator's face (the front end's landmarks)
    real_neutral: np.ndarray  # (68, 2) photo px, plain dlib at full resolution
    real_smile: np.ndarray  # (68, 2) photo px, plain dlib at full resolution
    smile: np.ndarray  # (68, 2) the smiling photo's aligned landmarks (front end)


def load_people(faces: str | Path, names: list[str]) -> list[Person]:
    """People whose ``NNN_03.jpg`` / ``NNN_08.jpg`` exist and show a face in both photos."""
    out = []
    for name in names:
        paths = [Path(faces) / f"{name}_{k}.jpg" for k in ("03", "08")]
        if not all(p.is_file() for p in paths):
            continue
        real = [sm.reference_shape(read_image(p)) for p in paths]
        if real[0] is None or real[1] is None:
            continue
        front = [process_image(p).aligned.landmarks for p in paths]
        out.append(Person(name, front[0], real[0], real[1], front[1]))
    return out


def split_people(data: SmileDataset, split: str) -> list[str]:
    names = data.subject_names
    return sorted({names[s] for s in np.asarray(data.subset(split).subjects)})


def _retargeted_rms(neutral: np.ndarray, read0: np.ndarray, read1: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return sm.canonical_rms(neutral + read1 - read0, truth)  # (B,)


def _summary(neutral: np.ndarray, smile: np.ndarray, read0: np.ndarray, read1: np.ndarray) -> dict[str, float]:
    return {"neutral": float(np.median(sm.canonical_rms(read0, neutral))),
            "smile": float(np.median(sm.canonical_rms(read1, smile))),
            "displacement": float(np.median(_retargeted_rms(neutral, read0, read1, smile)))}


def along_contour(read: np.ndarray, truth: np.ndarray, first: int = 0, last: int = 16) -> dict[str, float]:
    """How the error of ``read`` (B, 68, 2) against ``truth`` on the open contour ``first..last`` (the jaw by
    default) splits into its part along the contour (points sliding along a drawn line, which the line does not
    show) and across it: median over shapes of each part's RMS, canonical units (IOD)."""
    ct = np.stack([sm.canonical(p) for p in truth])[:, first:last + 1]  # (B, P, 2)
    err = np.stack([sm.canonical(p) for p in read])[:, first:last + 1] - ct  # (B, P, 2)
    ahead = np.concatenate([ct[:, 1:], ct[:, -1:]], 1)  # (B, P, 2) next point (the last: itself)
    behind = np.concatenate([ct[:, :1], ct[:, :-1]], 1)  # (B, P, 2) previous point (the first: itself)
    tangent = ahead - behind
    tangent /= np.maximum(np.linalg.norm(tangent, axis=-1, keepdims=True), 1e-12)  # (B, P, 2) unit
    along = (err * tangent).sum(-1)  # (B, P)
    across = err[..., 0] * tangent[..., 1] - err[..., 1] * tangent[..., 0]  # (B, P)
    return {"along": float(np.median(np.sqrt((along ** 2).mean(1)))),
            "across": float(np.median(np.sqrt((across ** 2).mean(1))))}


@torch.no_grad()
def read_stages(gen: LandmarkGenerator, neutral: np.ndarray, smile: np.ndarray) -> dict[str, dict[str, float]]:
    """Stages 2-3 for aligned shapes ``neutral`` / ``smile`` (B, 68, 2) of the generator's face size."""
    dev = next(gen.parameters()).device
    start = torch.from_numpy(np.asarray(neutral, dtype=np.float32)).to(dev)  # (B, 68, 2) the fits start here

    def images(pts: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.stack([gen.draw_neutral(p) for p in pts])).to(dev)  # (B, S, S)

    y0, y1 = images(neutral), images(smile)
    fit = [gen.points.fit(y, init=start).cpu().numpy() for y in (y0, y1)]
    gen.eval()
    mu = [gen.vae.encode(y[:, None])[0] for y in (y0, y1)]  # (B, D) each
    if gen.readout is not None:
        vae = [gen.readout(m).cpu().numpy() for m in mu]
    else:
        vae = [gen.points.fit(gen.vae.decode(m)[:, 0], init=start).cpu().numpy() for m in mu]
    return {"read_points": _summary(neutral, smile, *fit), "vae_round_trip": _summary(neutral, smile, *vae),
            "vae_round_trip_jaw": along_contour(vae[1], smile),  # the smile's jaw points: along / across the line
            "whole_smile": float(np.median(sm.canonical_rms(neutral, smile)))}


def data_stage(data: SmileDataset, people: list[Person]) -> dict[str, float]:
    """Stage 1: the test split's sequences, apex against the person's real smile, median per hidden style."""
    part = data.subset("test")
    real = {p.name: p.real_smile for p in people}
    names, styles = data.subject_names, np.asarray(part.styles)
    lms, subj = np.asarray(part.landmarks), np.asarray(part.subjects)
    out: dict[str, list[float]] = {}
    for i in range(len(part)):
        if names[subj[i]] not in real or styles[i] < 0:
            continue
        apex = lms[i][sm.apex_frame(lms[i])]  # (68, 2)
        out.setdefault(data.style_names[styles[i]], []).append(float(sm.canonical_rms(apex, real[names[subj[i]]])))
    return {k: float(np.median(v)) for k, v in out.items()}


def generation_rows(gen: LandmarkGenerator, people: list[Person], displacement: np.ndarray, modes: int | None = None,
                    seed: int = 0) -> list[dict[str, Any]]:
    """Stage 4: one row of :func:`smile_measures.generation_measures` per person and label."""
    neutral = np.stack([p.neutral for p in people]).astype(np.float32)  # (B, 68, 2)
    rows = []
    for label in gen.cfg.label_names:
        pts = gen.generate_many(neutral, [label] * len(people), modes, seed)["points"]  # (B, K+1, T, 68, 2)
        pts = neutral[:, None, None] + (pts - pts[:, :, :1])  # retargeted onto each person
        for p, seq in zip(people, pts):
            rows.append({"person": p.name, "label": label,
                         **sm.generation_measures(seq, p.real_neutral, p.real_smile, displacement)})
    return rows


def stage_table(gen: LandmarkGenerator, data: SmileDataset, faces: str | Path, seed: int = 0) -> dict[str, Any]:
    """All four stages on ``data``'s test people (typical smile from its train people's photos)."""
    test = load_people(faces, split_people(data, "test"))
    train = load_people(faces, split_people(data, "train"))
    disp = sm.typical_displacement(np.stack([p.real_neutral for p in train]), np.stack([p.real_smile for p in train]))
    rows = generation_rows(gen, test, disp, seed=seed)
    return {"people": len(test), "data": data_stage(data, test),
            **read_stages(gen, np.stack([p.neutral for p in test]), np.stack([p.smile for p in test])),
            "generation": sm.summarize(rows), "rows": rows,
            "data_jitter": sm.sequence_jitter(np.asarray(data.subset("test").landmarks))}
