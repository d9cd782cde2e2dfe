"""OUT/report.md: the paper's Tables 1-3 and Fig. 8 over every dataset of the reproduction, each measured value
beside the published one (:mod:`cmmnet.reproduce.paper`), plus the data protocol and the user-study kits.

The report is a function of the stage outputs only (no times, no absolute paths), so a resumed run writes the
same report as an uninterrupted one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..io import atomic_write_text
from . import paper
from .plan import Plan
from .stages import BASELINES, read_results, stage_facts

ROWS = paper.METHODS  # the paper's row order
ILLEGIBLE = "not legible"
NO_IS = "n/a (no --inception)"
CURVE_POINTS = (0.0, 0.25, 0.5, 0.75, 1.0)  # where Fig. 8's curves are printed, as a fraction of T - 1


def _num(x: float | None, nd: int = 3) -> str:
    return "–" if x is None else f"{x:.{nd}f}"


def _pub(x: float | None) -> str:
    return ILLEGIBLE if x is None else f"{x:.3f}"


def _columns(plan: Plan) -> list[tuple[str, str]]:
    """(dataset, label) column groups in the paper's order, for the labels each dataset's test split holds."""
    out = []
    for name in (d.name for d in plan.datasets):
        labels = read_results(plan, name)["real"]["labels"]
        out += [(name, lb) for lb in ("spontaneous", "posed") if lb in labels]
    return out


def _by_name(res: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {"Original": res["real"]}
    rows.update({m["name"]: m for m in res["methods"]})
    return rows


def _weights_fps(plan: Plan, name: str) -> str:
    """The frame rate the trained landmark generator's config records (its training data's)."""
    try:
        cfg = json.loads((plan.run_dir(name) / "landmark_generator" / "config.json").read_text())
        return f"{float(cfg['config']['fps']):g}"
    except (OSError, ValueError, KeyError, TypeError):
        return "–"


def _data_section(plan: Plan) -> list[str]:
    lines = ["## Data (§4.1)", "",
             "| dataset | made of | fps (data / weights) | T = 32 frames span | split protocol | "
             "train / test sequences | videos skipped |", "|---|---|---|---|---|---|---|"]
    notes: list[str] = []
    for d in plan.datasets:
        f = stage_facts(plan, "prepare", d.name)
        split = f["counts"]["split"]
        fps = f"{_num(f.get('fps'), 0)} / {_weights_fps(plan, d.name)}"
        lines.append(f"| {d.name} | {', '.join(d.sources)} | {fps} | {32 / d.fps:.2f} s | {d.protocol} | "
                     f"{split.get('train', 0)} / {split.get('test', 0)} | {len(f['skipped'])} of {f['videos']} |")
        if d.name == "uva-nemo" and d.folds is None:
            notes.append(f"**UvA-NEMO: seeded folds.** No `--folds` was given, so the 10 subject-disjoint folds were "
                         f"drawn with seed {plan.config.seed}; fold {plan.config.test_fold} is the test fold. These "
                         "are not the published lists: the numbers below are not directly comparable to the paper's.")
        elif d.name == "uva-nemo":
            notes.append(f"UvA-NEMO: the given fold lists, fold {plan.config.test_fold} for test, the other nine for "
                         "training (§4.1).")
        notes += [f"Warning: {w}" for w in f["subject_warnings"]]
        if f["disfa_plus_trials"]:
            notes.append(f"DISFA+ smile trials used (AU12-led: the trial's AU12 label reaches the smile threshold), "
                         f"{len(f['disfa_plus_trials'])}: " + ", ".join(f"`{t}`" for t in f["disfa_plus_trials"]))
        notes += [f"{d.name}: skipped `{k}`: {r}" for k, r in sorted(f["skipped"].items())]
    return lines + [""] + [f"- {n}" for n in notes] + [""]


def _table1(plan: Plan, columns: list[tuple[str, str]]) -> list[str]:
    has_is = plan.inception is not None
    lines = ["## Table 1: IS, ΔIS and SSIM (§4.3)", "",
             "SSIM: generated vs real frames of the same test input and label, mean over frames and videos. "
             "IS: Inception Score of all generated frames of a column; ΔIS = |IS - IS(Original)|.", ""]
    if not has_is:
        lines += ["**IS and ΔIS were not computed: no `--inception` file was given.** The Inception Score needs "
                  "Inception-v3 weights that cmmnet does not download; convert the FID/IS Inception weights with "
                  "`scripts/convert_inception.py` and rerun with `--inception FILE` (the finished stages are kept; "
                  "only evaluation runs again). The SSIM columns below are complete.", ""]
    for ds, lb in columns:
        res = read_results(plan, ds)
        rows = _by_name(res)
        pub = paper.TABLE1[ds, lb]
        n = res["real"]["labels"][lb]["n"]
        lines += [f"### {paper.COLUMN_NAMES[ds, lb]} (test sequences: {n})", "",
                  "| model | IS | IS (paper) | ΔIS | ΔIS (paper) | SSIM | SSIM (paper) |", "|---" * 7 + "|"]
        for name in ROWS:
            if name not in rows:
                continue
            r = rows[name]["labels"][lb]
            original = name == "Original"
            is_ = _num(r.get("is")) if has_is else NO_IS
            dis = ("–" if original else _num(r.get("delta_is"))) if has_is else NO_IS
            ssim = "1.000" if original else _num(r["ssim"])
            p = pub[name]
            lines.append(f"| {name} | {is_} | {_pub(p['is'])} | {dis} | "
                         f"{'–' if original else _pub(p['delta_is'])} | {ssim} | "
                         f"{'–' if original else _pub(p['ssim'])} |")
        lines.append("")
    return lines


def _table2(plan: Plan) -> list[str]:
    lines = ["## Table 2: user study (§4.3)", "",
             f"The paper: {paper.TABLE2_SETUP}; % of the preferences. Ours: the blinded A/B kits below are ready; "
             "open a kit's `index.html` in a browser (no server needed), collect the answer files the page saves, then "
             "`cmmnet study tally --key KIT/key.json ANSWERS.json ...` prints this table for them.", "",
             "| comparison | label | baseline (paper) | CMM-Net (paper) | ~ similar (paper) | ours |",
             "|---|---|---|---|---|---|"]
    for base in BASELINES:
        for lb in ("spontaneous", "posed"):
            p = paper.TABLE2[base][lb]
            lines.append(f"| CMM-Net vs {base} | {lb} | {p['baseline']:.2f} | {p['CMM-Net']:.2f} | "
                         f"{p['similar']:.2f} | awaiting raters |")
    lines += ["", "| dataset | comparison | kit | pairs |", "|---|---|---|---|"]
    for d in plan.datasets:
        for base, kit in stage_facts(plan, "study", d.name)["kits"].items():
            lines.append(f"| {d.name} | CMM-Net vs {base} | `{kit['dir']}/index.html` | {kit['pairs']} |")
    return lines + [""]


def _table3(plan: Plan, columns: list[tuple[str, str]]) -> list[str]:
    lines = ["## Table 3: distance between the AU curves and the real ones (§4.3)", "",
             "Cumulative (summed over the T frames) absolute difference between a method's mean AU curve and the "
             "real test videos' mean curve; AU intensities from dlib landmarks measured on the frames, smoothed "
             "over 5 frames. The paper's values are not legible in its text.", "",
             "| column | model | AU6 | AU6 (paper) | AU12 | AU12 (paper) |", "|---|---|---|---|---|---|"]
    for ds, lb in columns:
        rows = _by_name(read_results(plan, ds))
        for name in ROWS[1:]:
            if name in rows:
                r = rows[name]["labels"][lb]
                lines.append(f"| {paper.COLUMN_NAMES[ds, lb]} | {name} | {_num(r['au6_distance'])} | {ILLEGIBLE} | "
                             f"{_num(r['au12_distance'])} | {ILLEGIBLE} |")
    return lines + [""]


def _fig8(plan: Plan, columns: list[tuple[str, str]]) -> list[str]:
    lines = ["## Fig. 8: AU dynamics of the N2S sequences (§4.3)", "",
             "Mean AU6 (cheek raiser) and AU12 (lip corner puller) curves over the test set, relative to frame 0, "
             "5-frame smoothing; the plots are in `evaluate/<dataset>/fig8_<label>.png`, the values at five points "
             "of the sequence below. The paper's Fig. 8 is a plot without printed values.", ""]
    for ds, lb in columns:
        rows = _by_name(read_results(plan, ds))
        head = " | ".join(f"{au} t={int(round(f * 31))}" for au in ("AU6", "AU12") for f in CURVE_POINTS)
        lines += [f"### {paper.COLUMN_NAMES[ds, lb]}", "", f"![AU curves]({Path('evaluate', ds, f'fig8_{lb}.png')})",
                  "", f"| model | {head} |", "|---" * (1 + 2 * len(CURVE_POINTS)) + "|"]
        for name in ROWS:
            if name not in rows:
                continue
            curves = rows[name]["labels"][lb]["curves"]
            cells = []
            for au in ("au6", "au12"):
                c = np.asarray(curves[au], dtype=float)
                cells += [_num(float(c[int(round(f * (len(c) - 1)))])) for f in CURVE_POINTS]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines


def write_report(plan: Plan) -> Path:
    """Write OUT/report.md from the finished stages; returns its path."""
    columns = _columns(plan)
    c = plan.config
    lines = ["# Reproduction: Every Smile is Unique (CVPR 2018), Tables 1-3 and Fig. 8", "",
             f"Preset `{c.preset}` (training schedule of §3.5 for `paper`), seed {c.seed}, datasets: "
             f"{', '.join(d.name for d in plan.datasets)}. Per-dataset details (identity and mode metrics, every "
             "method's weights) are in `evaluate/<dataset>/report.md`.", "", paper.LEGIBILITY, ""]
    lines += _data_section(plan)
    lines += _table1(plan, columns)
    lines += _table2(plan)
    lines += _table3(plan, columns)
    lines += _fig8(plan, columns)
    path = plan.out / "report.md"
    atomic_write_text(path, "\n".join(lines).rstrip() + "\n")
    return path
