"""A dataset at a glance (what `cmmnet show` prints and draws): counts, AU proxy dynamics, curve plot, contact sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..io import PNG_SOFTWARE, atomic_path, save_png
from .format import SmileDataset
from .proxies import curve_stats


def counts_text(ds: SmileDataset) -> list[str]:
    """The dataset's counts: sequences, subjects, T, size, source, and per label / style / split."""
    c = ds.meta["counts"]
    lines = [f"{ds.path}: {c['total']} sequences, {len(ds.subject_names)} subjects, T={ds.T}, {ds.image_size}px, "
             f"source {ds.meta.get('source')}"]
    for key in ("label", "style", "split"):
        lines.append(f"  {key:6s} " + ", ".join(f"{k}: {v}" for k, v in c[key].items()))
    for split, per in c.get("split_label", {}).items():
        lines.append(f"  {split:6s} " + ", ".join(f"{k}: {v}" for k, v in per.items()))
    return lines


def dynamics_text(ds: SmileDataset, curves: dict[str, np.ndarray]) -> list[str]:
    """Per label: AU12 apex frame, amplitude and peak speed, and the AU6-AU12 apex lag; per style: the last frame's
    mouth opening and eye closure."""
    s12, s6 = curve_stats(curves["au12"]), curve_stats(curves["au6"])
    lines = ["  AU proxies per label (mean over sequences): AU12 apex frame / amplitude (IOD) / peak speed, "
          "|AU6 apex - AU12 apex|"]
    for i, name in enumerate(ds.label_names):
        m = ds.labels == i
        if not m.any():
            continue
        lag = np.abs(s6["apex"][m] - s12["apex"][m]).mean()
        lines.append(f"  {name:12s} {s12['apex'][m].mean():5.1f} / {s12['amplitude'][m].mean():.3f} / "
              f"{s12['peak_speed'][m].mean():.4f}, {lag:4.1f} frames")
    if ds.style_names:
        lines.append("  per style at the last frame: mouth opening (IOD) / eye closure")
        for j, name in enumerate(ds.style_names):
            m = ds.styles == j
            if m.any():
                lines.append(f"  {name:12s} {curves['mouth_opening'][m, -1].mean():.3f} / "
                      f"{curves['eye_closure'][m, -1].mean():.2f}")
    return lines


def plot_curves(ds: SmileDataset, curves: dict[str, np.ndarray], path: Path) -> None:
    import matplotlib

    """Mean +- sd of the four AU proxy curves, by label (AU12, AU6) and by style (mouth opening, eye closure)."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    t = np.arange(ds.T)
    panels = [("au12", "AU12 proxy: lip-corner distance change (IOD)", "label"),
              ("au6", "AU6 proxy: lower-lid raise / neutral eye aperture", "label"),
              ("mouth_opening", "inner-lip gap change (IOD)", "style"),
              ("eye_closure", "eye closure (1 - aperture / neutral)", "style")]
    for ax, (key, title, by) in zip(axes.ravel(), panels):
        if by == "style" and not ds.style_names:  # no known styles (e.g. a prepared dataset): by label
            by = "label"
        names = ds.label_names if by == "label" else ds.style_names
        groups = ds.labels if by == "label" else ds.styles
        for i, name in enumerate(names):
            m = groups == i
            if not m.any():
                continue
            mean, sd = curves[key][m].mean(0), curves[key][m].std(0)
            ax.plot(t, mean, label=f"{name} (n={int(m.sum())})")
            ax.fill_between(t, mean - sd, mean + sd, alpha=0.2)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("frame")
        ax.legend(fontsize=8)
    fig.suptitle(f"{ds.path.name}: landmark AU proxies, mean +- sd")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100, metadata={"Software": f"{PNG_SOFTWARE} show"})
    plt.close(fig)


def contact_sheet(ds: SmileDataset, path: Path, n_frames: int) -> None:
    """One row of faces and one of landmark images per (label, style) pair, first sequence of each."""
    s, T = ds.image_size, ds.T
    frames = np.unique(np.linspace(0, T - 1, max(2, min(n_frames, T))).round().astype(int))
    picks = []
    styles = range(len(ds.style_names)) if ds.style_names else [None]
    for li, lname in enumerate(ds.label_names):
        for si in styles:
            m = (ds.labels == li) & ((ds.styles == si) if si is not None else True)
            idx = np.flatnonzero(m)
            if len(idx):  # a different person on every row where possible
                sname = ds.style_names[si] if si is not None else ""
                subjects = np.unique(ds.subjects[idx])
                want = subjects[len(picks) % len(subjects)]
                picks.append((int(idx[ds.subjects[idx] == want][0]), f"{lname} {sname}".strip()))
    margin = 120
    sheet = Image.new("RGB", (margin + len(frames) * s, 2 * s * len(picks)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for row, (i, name) in enumerate(picks):
        faces = np.asarray(ds.faces[i][frames]).transpose(0, 2, 3, 1)  # (F, S, S, 3)
        lms = np.asarray(ds.landmark_images[i][frames])  # (F, S, S)
        y = 2 * s * row
        sheet.paste(Image.fromarray(np.concatenate(list(faces), 1)), (margin, y))
        lm_row = np.concatenate(list(lms), 1) * 255
        sheet.paste(Image.fromarray(lm_row.astype(np.uint8)).convert("RGB"), (margin, y + s))
        draw.text((4, y + 4), f"#{i}", fill=(0, 0, 0))
        draw.text((4, y + 18), name, fill=(0, 0, 0))
        draw.text((4, y + 32), ds.subject_names[int(ds.subjects[i])], fill=(90, 90, 90))
    scale = max(1, 128 // s)
    if scale > 1:
        sheet = sheet.resize((sheet.width * scale, sheet.height * scale), Image.Resampling.NEAREST)
    save_png(np.asarray(sheet), path, "show")
