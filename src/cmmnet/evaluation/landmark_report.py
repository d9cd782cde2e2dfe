"""The acceptance measurements of the landmark generator on a dataset's test people, as one dict.

:func:`landmark_report` measures a trained :class:`~cmmnet.models.landmark_generator.LandmarkGenerator`:

- ``point_model``: the point model's own error, fitting the dataset's real landmark images (px at the image size);
- ``vae``: on test frames, BCE (eq. 1, summed over pixels, mean per image) of the VAE reconstruction from the
  mean embedding, and the error of the landmarks fitted to the decoded image against the true ones (px);
- ``dynamics``: AU12 proxy curves (cmmnet.data.proxies) of the conditional sequences (row 0) per label: apex frame
  and amplitude, generated vs real; posed should peak earlier and higher, as in the data;
- ``modes``: distinctness of the K mode sequences: phi's accuracy; a nearest-centroid classifier (2-fold over the
  test inputs) on time-averaged embeddings and on time-averaged decoded landmarks; mean pairwise landmark distance
  between modes vs the real neutral-to-apex displacement (target ratio >= 0.25); the registered ``mode_diversity``;
- ``styles``: how the modes map onto the hidden styles (FRL-Smile): ``mode_style_agreement`` on motion (landmarks
  minus the neutral frame) against each style's mean real motion, and per mode / per style AU summaries.

Generation is deterministic given (neutral face, label), so test sequences that share both are generated once.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import numpy as np
import torch

from ..data import proxies
from ..data.format import SmileDataset
from ..losses.landmark import bce
from ..models.landmark_generator import LandmarkGenerator
from .metrics import mode_diversity, mode_style_agreement

log = logging.getLogger(__name__)


def _nearest_centroid_accuracy(x: np.ndarray, y: np.ndarray, groups: np.ndarray) -> float:
    """2-fold (by input group) accuracy of a nearest-centroid classifier on standardised features."""
    x = x.reshape(len(x), -1).astype(np.float64)
    ug = np.unique(groups)
    if len(ug) < 2:
        return float("nan")
    fold = np.isin(groups, ug[::2])
    correct, total = 0, 0
    for test in (fold, ~fold):
        tr = ~test
        mu, sd = x[tr].mean(0), x[tr].std(0) + 1e-8
        xt, xs = (x[tr] - mu) / sd, (x[test] - mu) / sd
        classes = np.unique(y[tr])
        cent = np.stack([xt[y[tr] == c].mean(0) for c in classes])
        pred = classes[((xs[:, None] - cent[None]) ** 2).sum(-1).argmin(1)]
        correct += int((pred == y[test]).sum())
        total += int(test.sum())
    return correct / max(total, 1)


def _apex_stats(points: np.ndarray) -> dict[str, float]:
    """Mean AU12 apex frame and amplitude of landmark sequences (N, T, 68, 2)."""
    st = proxies.curve_stats(proxies.au_curves(points)["au12"], smooth=3)
    return {"au12_apex_frame": float(np.mean(st["apex"])), "au12_amplitude": float(np.mean(st["amplitude"])),
            "n": int(len(points))}


def _au_summary(points: np.ndarray) -> dict[str, float]:
    c = proxies.au_curves(points)
    return {k: float(np.mean(np.max(c[k], axis=-1))) for k in ("au12", "au6", "mouth_opening", "eye_closure")}


@torch.no_grad()
def vae_report(gen: LandmarkGenerator, data: SmileDataset, max_frames: int = 1024, batch: int = 256,
               seed: int = 0) -> dict[str, Any]:
    """VAE reconstruction BCE and decoded-landmark error on up to ``max_frames`` random frames of ``data``."""
    rng = np.random.default_rng(seed)
    n, t = len(data), data.T
    m = min(max_frames, n * t)
    pick = rng.permutation(n * t)[:m]
    si, ti = np.sort(pick) // t, np.sort(pick) % t
    ys = np.asarray(data.landmark_images)[si, ti]  # (M, S, S)
    lms = np.asarray(data.landmarks)[si, ti]  # (M, 68, 2)
    dev = next(gen.parameters()).device
    gen.eval()
    bces, errs, fit_errs = [], [], []
    for i in range(0, m, batch):
        y = torch.from_numpy(ys[i:i + batch]).float()[:, None].to(dev)  # (B, 1, S, S)
        truth = torch.from_numpy(lms[i:i + batch]).to(dev)
        mu, _ = gen.vae.encode(y)
        logits = gen.vae.decode_logits(mu)  # (B, 1, S, S)
        bces += [float(bce(logits[j:j + 1], y[j:j + 1])) for j in range(len(y))]
        errs.append((gen.points.fit(torch.sigmoid(logits)[:, 0]) - truth).norm(dim=-1).mean(-1).cpu())
        fit_errs.append((gen.points.fit(y[:, 0]) - truth).norm(dim=-1).mean(-1).cpu())
    e, f = torch.cat(errs).numpy(), torch.cat(fit_errs).numpy()
    return {
        "frames": int(m),
        "vae": {"bce_per_image": float(np.mean(bces)), "decoded_landmark_px_mean": float(e.mean()),
                "decoded_landmark_px_median": float(np.median(e)),
                "decoded_landmark_px_p95": float(np.quantile(e, 0.95)),
                "target_px": 1.0, "meets_target": bool(e.mean() <= 1.0)},
        "point_model": {"real_image_fit_px_mean": float(f.mean()), "real_image_fit_px_median": float(np.median(f)),
                        "real_image_fit_px_p95": float(np.quantile(f, .95))},
    }


def generate_for_dataset(gen: LandmarkGenerator, data: SmileDataset, batch: int = 4, seed: int = 0
                         ) -> dict[str, np.ndarray]:
    """Generate (:meth:`LandmarkGenerator.generate_many`) for every distinct (neutral landmarks, label) of
    ``data``; arrays indexed by sequence."""
    lm0 = np.asarray(data.landmarks[:, 0])  # (N, 68, 2)
    labels = np.asarray(data.labels)
    keys: dict[tuple[bytes, int], int] = {}
    first = []
    inv = np.empty(len(data), dtype=np.int64)
    for i in range(len(data)):
        k = (lm0[i].tobytes(), int(labels[i]))
        if k not in keys:
            keys[k] = len(first)
            first.append(i)
        inv[i] = keys[k]
    first_a = np.asarray(first)
    pts, emb = [], []
    for i in range(0, len(first_a), batch):
        sel = first_a[i:i + batch]
        out = gen.generate_many(lm0[sel], labels[sel].tolist(), seed=seed)
        pts.append(out["points"])
        emb.append(out["embeddings"])
    return {"points": np.concatenate(pts)[inv], "embeddings": np.concatenate(emb)[inv], "unique": first_a,
            "group": inv}


def landmark_report(gen: LandmarkGenerator, data: SmileDataset, split: str = "test", max_vae_frames: int = 1024,
                    seed: int = 0) -> dict[str, Any]:
    """All the landmark generator's acceptance measurements for ``gen`` on ``data``'s ``split`` (see the module doc)."""
    part = data.subset(split)
    out: dict[str, Any] = {"split": split, "sequences": len(part), "K": gen.cfg.modes,
                           "label_names": list(gen.cfg.label_names)}
    out.update(vae_report(gen, part, max_vae_frames, seed=seed))
    g = generate_for_dataset(gen, part, seed=seed)
    uniq = g["unique"]
    out["generated_inputs"] = int(len(uniq))
    pts, emb = g["points"], g["embeddings"]  # (N, K+1, T, 68, 2), (N, K+1, T, D)
    real = np.asarray(part.landmarks)  # (N, T, 68, 2)
    labels = np.asarray(part.labels)

    # dynamics of the conditional sequences, per label, against the real data
    dyn: dict[str, Any] = {}
    for li, name in enumerate(gen.cfg.label_names):
        sel_u = uniq[labels[uniq] == li]
        sel = labels == li
        if sel.any():
            dyn[name] = {"generated": _apex_stats(pts[sel_u, 0]), "real": _apex_stats(real[sel])}
    if {"posed", "spontaneous"} <= set(dyn):
        p, s = dyn["posed"], dyn["spontaneous"]
        for kind in ("generated", "real"):
            dyn[f"{kind}_posed_earlier"] = p[kind]["au12_apex_frame"] < s[kind]["au12_apex_frame"]
            dyn[f"{kind}_posed_higher"] = p[kind]["au12_amplitude"] > s[kind]["au12_amplitude"]
    out["dynamics"] = dyn

    # distinctness of the modes (one row per distinct input)
    k = gen.cfg.modes
    mp, me = pts[uniq, 1:], emb[uniq, 1:]  # (U, K, T, 68, 2), (U, K, T, D)
    modes: dict[str, Any] = {}
    if k >= 2 and len(uniq) >= 2:
        y = np.tile(np.arange(k), len(uniq))
        grp = np.repeat(np.arange(len(uniq)), k)
        with torch.no_grad():
            logits = gen.phi(torch.from_numpy(me.mean(2)).to(next(gen.parameters()).device)).cpu().numpy()
        modes["phi_accuracy"] = float((logits.argmax(-1) == np.arange(k)).mean())
        modes["classifier_accuracy_embeddings"] = _nearest_centroid_accuracy(me.mean(2).reshape(-1, me.shape[-1]),
                                                                             y, grp)
        modes["classifier_accuracy_landmarks"] = _nearest_centroid_accuracy(mp.mean(2).reshape(len(y), -1), y, grp)
        pair = [np.linalg.norm(mp[:, i] - mp[:, j], axis=-1).mean() for i, j in itertools.combinations(range(k), 2)]
        modes["pairwise_landmark_px"] = float(np.mean(pair))
        apex = proxies.curve_stats(proxies.au_curves(real)["au12"], smooth=3)["apex"]  # (N,)
        disp = np.linalg.norm(real[np.arange(len(real)), apex] - real[:, 0], axis=-1).mean()
        modes["real_neutral_to_apex_px"] = float(disp)
        modes["pairwise_over_displacement"] = float(np.mean(pair) / max(disp, 1e-9))
        modes["meets_targets"] = bool(modes["classifier_accuracy_embeddings"] >= 0.95
                                      and modes["pairwise_over_displacement"] >= 0.25)
        modes.update(mode_diversity(mp))
        modes["per_mode_au"] = {f"mode{i + 1}": _au_summary(mp[:, i]) for i in range(k)}
        modes["conditional_au"] = _au_summary(pts[uniq, 0])
    out["modes"] = modes

    # modes vs hidden styles (where the dataset knows them)
    styles = np.asarray(part.styles)
    names = list(part.style_names)
    if names and (styles >= 0).any() and k >= 1:
        motion_real = real - real[:, :1]  # (N, T, 68, 2)
        present = [s for s in range(len(names)) if (styles == s).any()]
        protos = np.stack([motion_real[styles == s].mean(0) for s in present])
        motion_gen = mp - pts[uniq, 0:1, :1]  # modes minus the conditional sequence's first frame
        agree = mode_style_agreement(motion_gen, protos)
        out["styles"] = {"style_names": [names[s] for s in present], **agree,
                         "real_per_style_au": {names[s]: _au_summary(real[styles == s]) for s in present}}
    return out
