"""REPORT/report.md (Table 1, Table 3, Fig. 8-style plots, identity and mode metrics) and REPORT/metrics.jsonl."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_path, atomic_write_text
from .metrics import AU_NAMES, DLIB_SAME_PERSON
from .registry import compute_metric

NO_IS = "n/a: no --inception file"


def _fmt(x: float | None, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def add_distances(real: dict[str, Any], methods: list[dict[str, Any]]) -> None:
    """Fill ΔIS and the AU curve distances (Table 3) into each method's per-label results."""
    for m in methods:
        for label, r in m["labels"].items():
            ref = real["labels"][label]
            if "is" in r and "is" in ref:
                r.update(compute_metric("delta_is", is_generated=r["is"], is_real=ref["is"]))
            curves = {k: np.asarray(v) for k, v in r["curves"].items()}
            real_curves = {k: np.asarray(v) for k, v in ref["curves"].items()}
            r.update(compute_metric("au_curve_distance", curves=curves, real_curves=real_curves))


def plot_curves(real: dict[str, Any], methods: list[dict[str, Any]], label: str, path: Path) -> None:
    """Fig. 8: the mean smoothed AU6 / AU12 curves of the real test videos and of every method, one label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(AU_NAMES), figsize=(4.2 * len(AU_NAMES), 3.2), squeeze=False)
    titles = {"au6": "AU6 cheek raiser", "au12": "AU12 lip corner puller"}
    for ax, au in zip(axes[0], AU_NAMES):
        for res, style in [(real, dict(color="k", lw=2.2))] + [(m, dict(lw=1.5)) for m in methods]:
            c = res["labels"][label]["curves"][au]
            ax.plot(np.arange(len(c)), c, label=res["name"], **style)
        ax.set_title(f"{titles[au]} ({label})")
        ax.set_xlabel("frame")
        ax.set_ylabel("intensity (proxy, vs frame 0)")
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


def write_report(out: Path, real: dict[str, Any], methods: list[dict[str, Any]], info: dict[str, Any]) -> Path:
    """Write report.md, metrics.jsonl and the fig8_<label>.png plots into ``out``; returns report.md."""
    add_distances(real, methods)
    labels = list(real["labels"])
    has_is = "is" in next(iter(real["labels"].values()))
    counts = ", ".join(f"{lb} {real['labels'][lb]['n']}" for lb in labels)
    lines = [f"# Evaluation report: {info['dataset']}", "",
             f"Test split: {counts} sequences; "
             f"generated with seed {info['seed']}. Made by `{info['command']}`.", "",
             "| method | run | weights |", "|---|---|---|"]
    lines += [f"| {m['name']} | `{m['run']}` | `{m['weights']}` |" for m in methods]
    lines += ["", "## Table 1: image quality (paper §4.3)", "",
              "SSIM: generated vs real frame, same neutral face and label, mean over frames and videos. "
              "IS: Inception Score of all generated frames of a label; ΔIS = |IS - IS(Original)|.", ""]
    head = "| model | " + " | ".join(f"{lb} IS | {lb} ΔIS | {lb} SSIM" for lb in labels) + " |"
    lines += [head, "|---" * (1 + 3 * len(labels)) + "|"]
    for res in [real, *methods]:
        cells = []
        for lb in labels:
            r = res["labels"][lb]
            is_ = _fmt(r.get("is")) if has_is else NO_IS
            dis = (_fmt(r.get("delta_is")) if res is not real else "–") if has_is else NO_IS
            ssim = _fmt(r["ssim"]) if res is not real else "1.000"
            cells += [is_, dis, ssim]
        lines.append(f"| {res['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Table 3: AU curve distance to the real curves (paper §4.3)", "",
              f"Cumulative (summed over frames) absolute difference between a method's mean AU curve and the real "
              f"one; curves from dlib landmarks measured on the frames, smoothed over {info['au_window']} frames, "
              "averaged over the test videos of the label.", ""]
    lines += ["| model | " + " | ".join(f"{lb} AU6 | {lb} AU12" for lb in labels) + " |",
              "|---" * (1 + 2 * len(labels)) + "|"]
    for m in methods:
        cells = [f"{_fmt(m['labels'][lb]['au6_distance'])} | {_fmt(m['labels'][lb]['au12_distance'])}" for lb in labels]
        lines.append(f"| {m['name']} | " + " | ".join(cells) + " |")
    lines += ["", "## Fig. 8: AU dynamics", ""]
    for lb in labels:
        plot_curves(real, methods, lb, out / f"fig8_{lb}.png")
        lines.append(f"![AU curves, {lb}](fig8_{lb}.png)")
    lines += ["", "## Identity and modes", "",
              "Identity: dlib face-descriptor distance between the neutral input and the last generated frame "
              f"(dlib's same-person threshold {DLIB_SAME_PERSON}). Mode diversity (CMM-Net): RMS distance in "
              "pixels between the K modes' landmark motions; mode-style agreement where the dataset knows hidden "
              "styles (both on the first `mode_sequences` test sequences).", "",
              "| model | " + " | ".join(f"{lb} identity dist. | {lb} same person" for lb in labels)
              + " | mode diversity | mode-style purity | mode-style NMI |",
              "|---" * (4 + 2 * len(labels)) + "|"]
    for res in [real, *methods]:
        cells = [f"{_fmt(res['labels'][lb]['identity_distance'])} | {_fmt(res['labels'][lb]['identity_same'], 2)}"
                 for lb in labels]
        extra = [_fmt(res.get(k)) for k in ("mode_diversity", "mode_style_purity", "mode_style_nmi")]
        lines.append(f"| {res['name']} | " + " | ".join(cells + extra) + " |")
    report = out / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    rows = []
    for res in [real, *methods]:
        for lb in labels:
            r = {k: v for k, v in res["labels"][lb].items() if k != "curves"}
            rows.append({"method": res["name"], "run": res.get("run"), "weights": res.get("weights"), "label": lb,
                         "dataset": info["dataset"], **r})
        mode = {k: res[k] for k in ("mode_diversity", "mode_style_purity", "mode_style_nmi", "contingency",
                                    "mode_sequences")
                if k in res}
        if mode:
            rows.append({"method": res["name"], "run": res.get("run"), "label": None, **mode})
    atomic_write_text(out / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    return report
