"""What each stage of a reproduction runs: the library functions behind `cmmnet prepare`, `cmmnet train`,
`cmmnet evaluate` and `cmmnet study make`, with the paper's protocol filled in (§4.1, §3.5, §4.3)."""

from __future__ import annotations

import json
import logging
import os
import shlex
from typing import Any

from ..errors import CmmnetError
from ..io import atomic_write_text
from .plan import DatasetSpec, Plan, Stage

log = logging.getLogger(__name__)

BASELINES = ("Video-GAN", "CRA-Net")  # compared with CMM-Net in the user study (Table 2)


# ----------------------------------------------------------------------------------------------- run settings
def device_of(plan: Plan) -> str:
    from ..runtime import choose_device

    return choose_device(plan.config.device).type


def run_overrides(plan: Plan) -> list[str]:
    """The `cmmnet train --set` run settings: the whole GPU when there is one (bf16 autocast, fast kernels), on a
    CPU fp32 with deterministic kernels, so that a resumed run equals an uninterrupted one bit for bit."""
    device = device_of(plan)
    if device == "cuda":  # DataLoader workers keep the GPU fed; half the cores, the rest run the ranks
        workers = max(1, min(8, (os.cpu_count() or 2) // 2))
        return [f"run.seed={plan.config.seed}", "run.device=cuda", "run.precision=bf16", "run.determinism=fast",
                f"run.workers={workers}"]
    return [f"run.seed={plan.config.seed}", "run.device=cpu", "run.precision=fp32", "run.determinism=deterministic"]


# ----------------------------------------------------------------------------------------------- prepare
def subject_code_warnings(spec: DatasetSpec) -> list[str]:
    """UvA-NEMO: the subject is the details file's subject code; warn where code and file number NNN do not map
    one to one (one person under several numbers, or one number for several codes)."""
    if spec.name != "uva-nemo":
        return []
    from ..data.prepare.uva_nemo import VIDEO_RE, discover

    by_number: dict[str, set[str]] = {}
    by_code: dict[str, set[str]] = {}
    for it in discover(spec.root):
        m = VIDEO_RE.match(it.source.name)
        number = m.group(1) if m else it.source.stem
        by_number.setdefault(number, set()).add(it.subject)
        by_code.setdefault(it.subject, set()).add(number)
    out = [f"UvA-NEMO file number {n} carries subject codes {sorted(c)}: counted as {len(c)} people"
           for n, c in sorted(by_number.items()) if len(c) > 1]
    out += [f"UvA-NEMO subject code {c} appears under file numbers {sorted(n)}: counted as one person"
            for c, n in sorted(by_code.items()) if len(n) > 1]
    return out


def prepare(plan: Plan, spec: DatasetSpec) -> dict[str, Any]:
    from ..data.format import SPLIT_NAMES, load_dataset
    from ..data.prepare import PrepareConfig, prepare_dataset

    warnings = subject_code_warnings(spec)
    for w in warnings:
        log.warning("%s", w)
    fold = plan.config.test_fold if spec.name == "uva-nemo" else 1
    summary = prepare_dataset(spec.adapter, spec.root, plan.data_dir(spec.name), PrepareConfig(seed=plan.config.seed),
                              workers=plan.config.workers, folds=spec.folds, fold=fold, disfa_root=spec.disfa_root)
    data = load_dataset(plan.data_dir(spec.name))
    splits = data.arrays["splits"]
    for split in ("train", "test"):
        if not (splits == SPLIT_NAMES.index(split)).any():
            hint = (f"fold {fold} of the 10 folds holds no video (too few subjects for 10 folds); give the published "
                    "lists with --folds" if spec.name == "uva-nemo" else "too few people for a two-thirds split")
            raise CmmnetError(f"{spec.name}: the {split} split is empty: {hint}")
    names = data.meta["extra"]["sequence_names"]
    trials = sorted({n.split("#")[0].removeprefix("disfa+__").replace("__", "/") for n in names
                     if n.startswith("disfa+__")})
    return {"sequences": len(data), "videos": summary.videos, "skipped": dict(summary.skipped),
            "notes": summary.notes, "subject_warnings": warnings, "fps": data.meta["extra"].get("fps"),
            "protocol": spec.protocol, "split": data.meta["extra"]["split"], "disfa_plus_trials": trials,
            "counts": data.meta["counts"]}


# ----------------------------------------------------------------------------------------------- train
def train(plan: Plan, spec: DatasetSpec, phase: str, argv: list[str]) -> dict[str, Any]:
    from ..commands.train_cmd import train as train_run

    train_run(plan.data_dir(spec.name), plan.run_dir(spec.name), [phase], plan.config.preset, run_overrides(plan),
              resume=True, argv=argv)
    return {"phase": phase, "preset": plan.config.preset}


# ----------------------------------------------------------------------------------------------- evaluate
def evaluate(plan: Plan, spec: DatasetSpec) -> dict[str, Any]:
    """Every method of the dataset's run on its test split -> OUT/evaluate/<ds>/ (the `cmmnet evaluate` report,
    its result cache, test videos per method) and results.json for the combined report."""
    from ..data.format import load_dataset
    from ..evaluation.evaluate import EvaluateConfig, Evaluator
    from ..evaluation.methods import find_methods
    from ..evaluation.report import write_report

    cfg = EvaluateConfig(device=device_of(plan), seed=plan.config.seed)
    data = load_dataset(plan.data_dir(spec.name))
    out = plan.eval_dir(spec.name)
    methods = find_methods(plan.run_dir(spec.name), cfg.device)
    ev = Evaluator(data, cfg, out / "cache", plan.inception)
    real = ev.real()
    results = [ev.method(m, out / "videos") for m in methods]
    cmd = ["cmmnet", "evaluate", "--runs", str(plan.run_dir(spec.name)), "--data", str(plan.data_dir(spec.name)),
           "--out", str(out)] + (["--inception", str(plan.inception)] if plan.inception else [])
    info = {"dataset": spec.name, "seed": cfg.seed, "au_window": cfg.au_window, "command": shlex.join(cmd)}
    write_report(out, real, results, info)  # also fills ΔIS and the AU curve distances into ``results``
    videos = {m.name: f"videos/{m.slug}" for m in methods}
    atomic_write_text(out / "results.json", json.dumps({"real": real, "methods": results, "videos": videos}) + "\n")
    return {"methods": [m.name for m in methods], "test_sequences": len(ev.rows)}


def read_results(plan: Plan, name: str) -> dict[str, Any]:
    path = plan.eval_dir(name) / "results.json"
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CmmnetError(f"{path}: missing or damaged ({e}); delete {plan.state_dir} / evaluate__{name}.json "
                          "and rerun to evaluate again") from e


# ----------------------------------------------------------------------------------------------- study
def study(plan: Plan, spec: DatasetSpec) -> dict[str, Any]:
    """The blinded A/B kits of Table 2: CMM-Net against each baseline, on this dataset's test videos."""
    from ..study import make_study

    res = read_results(plan, spec.name)
    videos = {name: plan.eval_dir(spec.name) / rel for name, rel in res["videos"].items()}
    if "CMM-Net" not in videos:
        raise CmmnetError(f"{plan.run_dir(spec.name)}: no CMM-Net weights; the training stages did not finish")
    kits = {}
    for base in BASELINES:
        if base not in videos:
            continue
        out = plan.study_dir(spec.name) / f"cmmnet-vs-{base.lower().replace('-', '')}"
        key = make_study(videos["CMM-Net"], videos[base], out, pairs=plan.config.study_pairs, seed=plan.config.seed,
                         name_a="CMM-Net", name_b=base)
        kits[base] = {"dir": str(out.relative_to(plan.out)), "pairs": len(key["pairs"])}
    return {"kits": kits}


def execute(plan: Plan, stage: Stage, argv: list[str]) -> dict[str, Any] | None:
    """Run one stage (the function :func:`cmmnet.reproduce.state.run_stages` calls)."""
    from .report import write_report

    if stage.kind == "report":
        return {"report": str(write_report(plan).relative_to(plan.out))}
    spec = plan.dataset(str(stage.dataset))
    if stage.kind == "prepare":
        return prepare(plan, spec)
    if stage.kind == "train":
        return train(plan, spec, str(stage.phase), argv)
    if stage.kind == "evaluate":
        return evaluate(plan, spec)
    return study(plan, spec)


def stage_facts(plan: Plan, kind: str, name: str) -> dict[str, Any]:
    """The record a finished stage left (prepare's counts, study's kits, ...)."""
    from .state import read_marker

    rec = read_marker(plan, Stage(kind, name))  # type: ignore[arg-type]
    if rec is None:
        raise CmmnetError(f"{plan.out}: stage {kind}/{name} has not finished; rerun the command to complete it")
    return rec
