"""`cmmnet reproduce`: the plan, resumable stages, the report's layout and the dry-run estimate (fast), and the
whole command at --preset smoke on fixtures in the three datasets' real layouts, killed once and resumed (slow)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from _datasets import write_disfa, write_disfa_plus, write_uva_nemo
from _procs import kill_at_marker
from cmmnet.cli import main
from cmmnet.errors import CmmnetError
from cmmnet.reproduce import ReproduceConfig, build_plan, check_settings, dataset_specs, run_stages
from cmmnet.reproduce.estimate import Costs, DatasetCounts, Linear, estimate_plan, format_estimate
from cmmnet.reproduce.plan import TRAIN_PHASES
from cmmnet.reproduce.report import write_report
from cmmnet.reproduce.stages import subject_code_warnings
from cmmnet.reproduce.state import read_marker, write_marker


def _roots(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name in ("uva", "disfa", "dplus", "folds"):
        out[name] = tmp_path / name
        out[name].mkdir()
    return out


def test_plan_stages_in_order(tmp_path):
    r = _roots(tmp_path)
    specs = dataset_specs(r["uva"], r["disfa"], r["dplus"], None)
    assert [(d.name, d.adapter, d.fps, d.disfa_root) for d in specs] == [
        ("uva-nemo", "uva-nemo", 50.0, None), ("disfa", "disfa+", 20.0, r["disfa"])]
    assert "SEEDED folds" in specs[0].protocol and "published" in dataset_specs(r["uva"], None, None,
                                                                                  r["folds"])[0].protocol
    plan = build_plan(specs, tmp_path / "out", ReproduceConfig(preset="smoke"))
    ids = [s.id for s in plan.stages]
    assert ids[:9] == ["prepare/uva-nemo", *(f"train/uva-nemo/{p}" for p in TRAIN_PHASES), "evaluate/uva-nemo",
                       "study/uva-nemo"]
    assert ids[9] == "prepare/disfa" and ids[-1] == "report" and len(ids) == 19
    # any dataset may be left out: DISFA alone is its spontaneous smiles, DISFA+ alone its posed ones
    assert [(d.adapter, d.sources) for d in dataset_specs(None, r["disfa"], None, None)] == [
        ("disfa", ("DISFA (spontaneous)",))]
    assert [d.adapter for d in dataset_specs(None, None, r["dplus"], None)] == ["disfa+"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "no dataset given"),
    ({"folds": "folds", "disfa": "disfa"}, "--folds is UvA-NEMO's fold lists"),
    ({"uva_nemo": "missing"}, "--uva-nemo"),
    ({"disfa_plus": "missing"}, "--disfa-plus"),
])
def test_bad_dataset_arguments(tmp_path, kwargs, message):
    r = _roots(tmp_path)
    args = {k: (r.get(v) or tmp_path / v) for k, v in kwargs.items()}
    full = {"uva_nemo": None, "disfa": None, "disfa_plus": None, "folds": None, **args}
    with pytest.raises(CmmnetError, match=re.escape(message)):
        dataset_specs(**full)


def test_bad_command_lines_exit_2(tmp_path, capsys):
    r = _roots(tmp_path)
    for argv, expect in (
        (["--out", str(tmp_path / "o")], "no dataset given"),
        (["--uva-nemo", str(r["uva"]), "--out", str(tmp_path / "o"), "--inception", str(tmp_path / "no.st")],
         "--inception"),
        (["--uva-nemo", str(r["uva"]), "--out", str(tmp_path / "o"), "--workers", "0"], "--workers 0"),
    ):
        assert main(["reproduce", *argv]) == 2
        err = capsys.readouterr().err
        assert expect in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def test_stages_resume_after_a_crash(tmp_path):
    """A stage that fails leaves no marker; the rerun skips the finished stages and continues with that one."""
    r = _roots(tmp_path)
    plan = build_plan(dataset_specs(r["uva"], None, None, None), tmp_path / "out", ReproduceConfig(preset="smoke"))
    check_settings(plan)
    calls: list[str] = []

    def crash_at_evaluate(stage):
        calls.append(stage.id)
        if stage.kind == "evaluate":
            raise RuntimeError("killed")
        return {"n": len(calls)}

    with pytest.raises(RuntimeError):
        run_stages(plan, crash_at_evaluate, say=lambda s: None)
    assert calls[-1] == "evaluate/uva-nemo" and len(calls) == 8
    assert read_marker(plan, plan.stages[6])["n"] == 7 and read_marker(plan, plan.stages[7]) is None
    calls.clear()
    said: list[str] = []
    seconds = run_stages(plan, lambda stage: calls.append(stage.id) or {}, say=said.append)
    assert calls == ["evaluate/uva-nemo", "study/uva-nemo", "report"]
    assert sum("done before, skipped" in s for s in said) == 7 and set(seconds) == {s.id for s in plan.stages}
    assert not list(plan.state_dir.glob("*.tmp*"))
    # a damaged marker counts as unfinished
    (plan.state_dir / "report.json").write_text("{")
    calls.clear()
    run_stages(plan, lambda stage: calls.append(stage.id) or {}, say=lambda s: None)
    assert calls == ["report"]
    # resuming with other settings, or into a folder that is not a reproduction, is refused in one line
    other = build_plan(plan.datasets, plan.out, ReproduceConfig(preset="cpu"))
    with pytest.raises(CmmnetError, match="other settings \\(config differ\\)"):
        check_settings(other)
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("")
    with pytest.raises(CmmnetError, match="not a reproduction directory"):
        check_settings(build_plan(plan.datasets, tmp_path / "busy", ReproduceConfig()))


def test_other_ranks_train_together_and_wait_for_the_rest(tmp_path, monkeypatch):
    """Under torchrun, rank 1 runs only the training stages (with rank 0) and waits for rank 0's markers of the
    others; it writes no marker."""
    r = _roots(tmp_path)
    plan = build_plan(dataset_specs(r["uva"], None, None, None), tmp_path / "out", ReproduceConfig(preset="smoke"))
    check_settings(plan)
    for stage in plan.stages:
        if stage.kind != "train":
            write_marker(plan, stage, {"seconds": 1.0})
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    calls: list[str] = []
    seconds = run_stages(plan, lambda stage: calls.append(stage.id) or {}, say=lambda s: None, poll=0.01)
    assert calls == [f"train/uva-nemo/{p}" for p in TRAIN_PHASES] and len(seconds) == len(plan.stages)
    assert all(read_marker(plan, s) is None for s in plan.stages if s.kind == "train")


def test_subject_code_warnings(tmp_path):
    root = tmp_path / "uva"
    (root / "videos").mkdir(parents=True)
    names = ["001_deliberate_smile_1.mp4", "001_spontaneous_smile_2.mp4", "002_deliberate_smile_3.mp4",
             "003_spontaneous_smile_4.mp4", "004_deliberate_smile_5.mp4"]
    codes = ["7", "8", "9", "9", "10"]  # 001 carries two codes; code 9 appears under files 002 and 003
    for n in names:
        (root / "videos" / n).write_bytes(b"")
    rows = [f"{n}\t{c}\tf\t20\t{'deliberate' if 'delib' in n else 'spontaneous'}" for n, c in zip(names, codes)]
    (root / "UvA-NEMO_Smile_Database_File_Details.txt").write_text("header\n" + "\n".join(rows) + "\n")
    spec = dataset_specs(root, None, None, None)[0]
    warnings = subject_code_warnings(spec)
    assert warnings == ["UvA-NEMO file number 001 carries subject codes ['7', '8']: counted as 2 people",
                        "UvA-NEMO subject code 9 appears under file numbers ['002', '003']: counted as one person"]
    # one to one: no warning
    rows = [f"{n}\t{n[:3]}\tf\t20\tx" for n in names]
    (root / "UvA-NEMO_Smile_Database_File_Details.txt").write_text("header\n" + "\n".join(rows) + "\n")
    assert subject_code_warnings(spec) == []


def _fake_results(plan, name, labels, ssim, inception=False):
    """Stage outputs as the evaluate/prepare/study stages leave them (numbers chosen for the test)."""
    curves = {"au6": [0.0] * 32, "au12": [float(t) / 31 for t in range(32)]}
    scores = {"is": 1.4, "delta_is": 0.05} if inception else {}

    def method(n, s):
        return {"name": n, "labels": {lb: {"n": 3, "ssim": s, "curves": curves, "au6_distance": 1.5,
                                           "au12_distance": 2.25, **scores} for lb in labels}}
    res = {"real": method("Original", 1.0), "methods": [method(m, ssim) for m in ("CMM-Net", "CRA-Net", "Video-GAN")],
           "videos": {}}
    d = plan.eval_dir(name)
    d.mkdir(parents=True)
    (d / "results.json").write_text(json.dumps(res))
    stage = next(s for s in plan.stages if s.kind == "prepare" and s.dataset == name)
    write_marker(plan, stage, {"counts": {"split": {"train": 6, "test": 3}}, "skipped": {"x": "no face"},
                               "videos": 10, "subject_warnings": ["W1"], "fps": plan.dataset(name).fps,
                               "disfa_plus_trials": ["SN001/A12_TrailNo_1"] if name == "disfa" else []})
    stage = next(s for s in plan.stages if s.kind == "study" and s.dataset == name)
    write_marker(plan, stage, {"kits": {"Video-GAN": {"dir": f"study/{name}/cmmnet-vs-videogan", "pairs": 3}}})


def test_report_layout_beside_the_paper(tmp_path):
    r = _roots(tmp_path)
    plan = build_plan(dataset_specs(r["uva"], r["disfa"], r["dplus"], None), tmp_path / "out", ReproduceConfig())
    _fake_results(plan, "uva-nemo", ("posed", "spontaneous"), 0.6125)
    _fake_results(plan, "disfa", ("posed", "spontaneous"), 0.4)
    text = write_report(plan).read_text()
    heads = re.findall(r"^## (.+)$", text, flags=re.M)
    assert [h.split(":")[0] for h in heads] == ["Data (§4.1)", "Table 1", "Table 2", "Table 3", "Fig. 8"]
    assert re.findall(r"^### (.+) \(", text, flags=re.M)[:4] == ["UvA-NEMO Spont.", "UvA-NEMO Posed", "DISFA Spont.",
                                                                 "DISFA+ Posed"]
    # ours beside the published value; IS said plainly to be missing; illegible cells said so
    assert "| CMM-Net | n/a (no --inception) | 1.354 | n/a (no --inception) | 0.065 | 0.613 | 0.854 |" in text
    assert "| CMM-Net | n/a (no --inception) | 1.447 | n/a (no --inception) | 0.021 | 0.400 | not legible |" in text
    assert "IS and ΔIS were not computed: no `--inception` file was given" in text
    assert "| uva-nemo | UvA-NEMO Smile | 50 / – | 0.64 s |" in text and "| 20 / – | 1.60 s |" in text
    assert "**UvA-NEMO: seeded folds.**" in text and "Warning: W1" in text and "`SN001/A12_TrailNo_1`" in text
    assert "| CMM-Net vs CRA-Net | posed | 11.94 | 59.72 | 28.33 | awaiting raters |" in text
    assert "| DISFA+ Posed | CMM-Net | 1.500 | not legible | 2.250 | not legible |" in text
    assert "| CMM-Net | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | 0.000 | 0.258 | 0.516 | 0.742 | 1.000 |" in text
    # with an Inception file: IS and ΔIS beside the paper's; the given fold lists are named as such
    (tmp_path / "inception.safetensors").write_bytes(b"x")
    plan = build_plan(dataset_specs(r["uva"], None, None, r["folds"]), tmp_path / "out2", ReproduceConfig(),
                      tmp_path / "inception.safetensors")
    _fake_results(plan, "uva-nemo", ("posed", "spontaneous"), 0.6125, inception=True)
    text = write_report(plan).read_text()
    assert "| CMM-Net | 1.400 | 1.354 | 0.050 | 0.065 | 0.613 | 0.854 |" in text
    assert "| Original | 1.400 | 1.419 | – | – | 1.000 | – |" in text
    assert "not computed" not in text and "seeded" not in text and "the given fold lists" in text


def test_estimate_scales_measured_costs(tmp_path):
    r = _roots(tmp_path)
    plan = build_plan(dataset_specs(r["uva"], None, None, None), tmp_path / "out", ReproduceConfig(preset="paper"))
    assert Linear.fit((2, 8), (3.0, 6.0)) == Linear(2.0, 0.5)
    costs = Costs({p: Linear(1.0, 0.01) for p in TRAIN_PHASES}, Linear(5.0, 2.0), 0.5, 6 * 1000, 1000)
    counts = {"uva-nemo": DatasetCounts(videos=1240, sequences=1240, train=1116, test=124, per_video_s=2.0)}
    rows = {e.stage: e for e in estimate_plan(plan, counts, costs)}
    assert rows["prepare/uva-nemo"].seconds == pytest.approx(2480.0)
    assert rows["train/uva-nemo/vae"].seconds == pytest.approx(1.0 + 50 * 0.01 * 1116)  # the paper's 50 epochs
    assert rows["train/uva-nemo/translation"].seconds == pytest.approx(1.0 + 20 * 0.01 * 1116)
    assert rows["evaluate/uva-nemo"].seconds == pytest.approx(5.0 + 2.0 * 124)
    lines = format_estimate(list(rows.values()))
    assert lines[-1].startswith("total") and len(lines) == len(plan.stages) + 2


# ----------------------------------------------------------------------------------------------- end to end

def _code(argv: list[str]) -> str:
    return f"import sys\nfrom cmmnet.cli import main\nsys.exit(main({argv!r}))\n"


@pytest.fixture(scope="module")
def layouts(tmp_path_factory, frl_dir) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("layouts")
    uva = write_uva_nemo(root / "uva", frl_dir)
    names = sorted(p.name for p in (uva / "videos").iterdir())
    for k in range(1, 11):  # published-style lists: person 008 is the test fold 10
        (root / "folds" / str(k)).mkdir(parents=True)
        test = {n: "x" for n in names if n.startswith("008_")} if k == 10 else {}
        (root / "folds" / str(k) / "test.json").write_text(json.dumps(test))
        (root / "folds" / str(k) / "train.json").write_text(json.dumps({n: "x" for n in names if n not in test}))
    return {"uva": uva, "folds": root / "folds", "disfa": write_disfa(root / "disfa", frl_dir),
            "dplus": write_disfa_plus(root / "dplus", frl_dir)}


def _argv(layouts, out: Path) -> list[str]:
    return ["reproduce", "--uva-nemo", str(layouts["uva"]), "--folds", str(layouts["folds"]), "--disfa",
            str(layouts["disfa"]), "--disfa-plus", str(layouts["dplus"]), "--out", str(out), "--preset", "smoke",
            "--device", "cpu"]


@pytest.mark.slow
def test_smoke_reproduction_killed_and_resumed_equals_uninterrupted(layouts, tmp_path, capsys):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # the dry run prints the plan with a time and a disk size per stage, and writes nothing
    assert main([*_argv(layouts, tmp_path / "dry"), "--dry-run"]) == 0
    printed = capsys.readouterr().out
    table = printed[printed.index("stage "):].splitlines()
    assert len(table) == 19 + 2 and table[-1].startswith("total") and not (tmp_path / "dry").exists()
    assert all(re.search(r"\d+(\.\d)? (s|min|h) +\d+(\.\d)? [KMG]?B", ln) for ln in table[1:]), table
    # uninterrupted
    ref = tmp_path / "ref"
    r = subprocess.run([sys.executable, "-c", _code(_argv(layouts, ref))], env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    # killed in the middle of training the first dataset, then resumed
    out = tmp_path / "killed"
    marker = out / "runs" / "uva-nemo" / "checkpoints" / "translation.safetensors"
    assert kill_at_marker(_code(_argv(layouts, out)), marker, timeout=900, env=env) == -signal.SIGKILL
    assert not (out / "report.md").exists() and len(list((out / "state").glob("*.json"))) < 19
    r2 = subprocess.run([sys.executable, "-c", _code(_argv(layouts, out))], env=env, capture_output=True, text=True)
    assert r2.returncode == 0, r2.stderr[-3000:]
    assert "done before, skipped" in r2.stdout
    a, b = (ref / "report.md").read_text(), (out / "report.md").read_text()
    assert a == b
    for head in ("## Table 1", "## Table 2", "## Table 3", "## Fig. 8"):
        assert head in a
    for col in ("UvA-NEMO Spont.", "UvA-NEMO Posed", "DISFA Spont.", "DISFA+ Posed"):
        assert re.search(rf"### {re.escape(col)}.*?\| CMM-Net \| [^|]+ \| [^|]+ \| [^|]+ \| [^|]+ \| \d\.\d{{3}} \|",
                         a, flags=re.S), col
        assert re.search(rf"\| {re.escape(col)} \| CMM-Net \| \d+\.\d{{3}} \|", a), col
    # the frame rate is recorded with the data and with the weights trained on it
    assert "| uva-nemo | UvA-NEMO Smile | 50 / 50 |" in a and "| 20 / 20 |" in a
    timings = json.loads((ref / "timings.json").read_text())
    assert len(timings["stages"]) == 19 and timings["total"] > 0
