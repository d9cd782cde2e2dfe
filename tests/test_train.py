"""`cmmnet train`: the landmark phases end to end on a tiny FRL-Smile, resume after SIGKILL bitwise,
DDP with 2 CPU processes, bad checkpoints -> one line and exit 2."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from cmmnet.cli import main
from cmmnet.models.landmark_generator import LandmarkGenerator
from cmmnet.runtime import cpu_kind, emulated_bf16_warning, native_bf16

SMOKE = ["--preset", "smoke", "--set", "run.device=cpu", "run.determinism=deterministic", "run.num_threads=1"]


@pytest.fixture(scope="module")
def tiny_data(frl_dir, tmp_path_factory) -> Path:
    from cmmnet.data.synth import synthesize

    return synthesize(frl_dir, tmp_path_factory.mktemp("data") / "frl2", people=2, per_face=2, seed=0, workers=1)


def _cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cmmnet.cli", *args], capture_output=True, text=True, timeout=timeout)


def _weights(run: Path) -> dict:
    return load_file(str(run / "landmark_generator" / "model.safetensors"))


def test_train_smoke_end_to_end(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae,lstm,multimode", *SMOKE]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["landmark_generator"]["label_names"] == ["posed", "spontaneous"] and cfg["vae"]["epochs"] == 1
    info = json.loads((out / "run.json").read_text())[0]
    assert "train" in info["command"] and info["git_revision"]
    assert info["cpu"]["kind"] == list(cpu_kind()) and info["precision"] == "fp32"  # bytes repeat on one CPU kind
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert {"vae", "lstm", "multimode"} <= {r["phase"] for r in recs}
    mm = [r for r in recs if r["phase"] == "multimode"]
    assert all(np.isfinite(r["loss"]) and "push" in r and "pull" in r for r in mm)
    assert any((out / "tensorboard").iterdir())
    for phase in ("vae", "lstm", "multimode"):
        assert (out / "checkpoints" / f"{phase}.safetensors").is_file()
    from cmmnet.models.io import read_model_index

    assert read_model_index(out) == {"landmark_generator": "LandmarkGenerator"}
    gen = LandmarkGenerator.from_pretrained(out / "landmark_generator")
    lm = np.load(tiny_data / "landmarks.npy")[0, 0]
    res = gen.generate(lm, "spontaneous")
    assert res.images.shape == (4, 32, 64, 64) and res.points.shape == (4, 32, 68, 2)
    assert np.isfinite(res.points).all()
    # the acceptance report runs on the trained generator and reports every measurement of docs/landmark-generator.md
    from cmmnet.data import load_dataset
    from cmmnet.evaluation.landmark_report import landmark_report

    rep = landmark_report(gen, load_dataset(tiny_data), max_vae_frames=16)
    assert rep["K"] == 3 and rep["frames"] == 16 and np.isfinite(rep["vae"]["decoded_landmark_px_mean"])
    assert {"posed", "spontaneous"} <= set(rep["dynamics"]) and "generated_posed_earlier" in rep["dynamics"]
    assert 0.0 <= rep["modes"]["classifier_accuracy_embeddings"] <= 1.0 and rep["modes"]["pairwise_landmark_px"] > 0
    assert len(rep["styles"]["contingency"]) == 3
    # a finished run resumes as a no-op (every phase skips itself) and leaves the weights as they were
    before = _weights(out)
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae,lstm,multimode", "--resume",
                 *SMOKE]) == 0
    after = _weights(out)
    assert all(np.array_equal(before[k].numpy(), after[k].numpy()) for k in before)
    # a run written before a field existed still resumes (the field's default is what it trained with); a run whose
    # stored value differs from the command's is refused, naming the key
    stored = json.loads((out / "config.json").read_text())
    del stored["lstm"]["h0_noise"]
    (out / "config.json").write_text(json.dumps(stored))
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae,lstm,multimode", "--resume",
                 *SMOKE]) == 0
    assert "h0_noise" in json.loads((out / "config.json").read_text())["lstm"]
    stored["lstm"]["h0_noise"] = 0.5
    (out / "config.json").write_text(json.dumps(stored))
    capsys.readouterr()
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae", "--resume", *SMOKE]) == 2
    assert "changed: ['lstm.h0_noise']" in capsys.readouterr().err


def test_sigkill_in_phase_two_then_resume_is_bitwise_equal(tiny_data, tmp_path):
    common = ["--data", str(tiny_data), "--phases", "vae,lstm,multimode", *SMOKE, "lstm.epochs=4", "lstm.batch_size=2"]
    ref = tmp_path / "ref"
    r = _cli("train", "--out", str(ref), *common)
    assert r.returncode == 0, r.stderr[-2000:]

    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "cmmnet.cli", "train", "--out", str(killed), *common],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt = killed / "checkpoints" / "lstm.safetensors"
    deadline = time.monotonic() + 240
    while not ckpt.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed in phase 2"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (killed / "checkpoints" / "multimode.safetensors").exists()
    from cmmnet.training.checkpoints import read_checkpoint

    assert read_checkpoint(ckpt)[1]["epoch"] < 4  # really interrupted inside phase 2

    r = _cli("train", "--out", str(killed), "--resume", *common)
    assert r.returncode == 0, r.stderr[-2000:]
    a, b = _weights(ref), _weights(killed)
    assert a.keys() == b.keys()
    for k in a:
        assert np.array_equal(a[k].numpy(), b[k].numpy()), k
    assert len(json.loads((killed / "run.json").read_text())) == 2  # the resume is recorded


def test_bad_checkpoints_give_one_line_and_exit_2(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae", *SMOKE]) == 0
    # damaged checkpoint
    bad = tmp_path / "damaged"
    shutil.copytree(out, bad)
    raw = (bad / "checkpoints" / "vae.safetensors").read_bytes()
    (bad / "checkpoints" / "vae.safetensors").write_bytes(raw[: len(raw) // 3])
    r = _cli("train", "--data", str(tiny_data), "--out", str(bad), "--phases", "vae,lstm", "--resume", *SMOKE)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("cmmnet train: error")]
    assert r.returncode == 2 and len(lines) == 1 and "damaged" in lines[0] and "Traceback" not in r.stderr
    # a checkpoint of another architecture (a run with different VAE widths)
    other = tmp_path / "other"
    (other / "checkpoints").mkdir(parents=True)
    shutil.copy(out / "checkpoints" / "vae.safetensors", other / "checkpoints" / "vae.safetensors")
    capsys.readouterr()
    assert main(["train", "--data", str(tiny_data), "--out", str(other), "--phases", "lstm", "--resume", *SMOKE,
                 "landmark_generator.vae.channels=[4,8,16,16]"]) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("cmmnet train: error")]
    assert len(lines) == 1 and "architecture" in lines[0]
    # the previous phase missing, an unknown phase, an existing run without --resume
    for args, expect in ((["--out", str(tmp_path / "new"), "--phases", "lstm"], "vae"),
                         (["--out", str(tmp_path / "x"), "--phases", "vae,gan"], "gan"),
                         (["--out", str(out), "--phases", "vae"], "--resume"),
                         (["--out", str(tmp_path / "y"), "--set", "vae.nope=1"], "vae.nope")):
        assert main(["train", "--data", str(tiny_data), *args, *SMOKE]) == 2
        err = capsys.readouterr().err
        lines = [ln for ln in err.splitlines() if ln.startswith("cmmnet train: error")]
        assert len(lines) == 1 and expect in lines[0], err


def test_torchrun_two_cpu_processes(tiny_data, tmp_path):
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m",
           "cmmnet.cli", "train", "--data", str(tiny_data), "--out", str(out), "--phases", "vae,lstm,multimode",
           *SMOKE]
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    info = json.loads((out / "run.json").read_text())
    assert info[0]["world_size"] == 2
    LandmarkGenerator.from_pretrained(out / "landmark_generator")
    recs = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["phase"] == "multimode" for r in recs)


def test_push_loss_ablation_changes_mode_discrimination(tiny_data, tmp_path):
    """With the push loss off, phi gets no gradient and cannot tell the modes apart; with it on, it learns to."""
    base = tmp_path / "base"
    common = ["--data", str(tiny_data), *SMOKE]
    assert main(["train", *common, "--out", str(base), "--phases", "vae,lstm"]) == 0
    acc = {}
    for w in (0.0, 10.0):
        run = tmp_path / f"push{w}"
        (run / "checkpoints").mkdir(parents=True)
        for p in ("vae", "lstm"):
            shutil.copy(base / "checkpoints" / f"{p}.safetensors", run / "checkpoints")
        assert main(["train", *common, "--out", str(run), "--phases", "multimode", "--resume",
                     "--set", "multimode.epochs=12", f"multimode.push_weight={w}"]) == 0
        recs = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        mm = [r for r in recs if r["phase"] == "multimode"]
        acc[w] = (mm[0]["push"], mm[-1]["push"], np.mean([r["mode_acc"] for r in mm[-3:]]))
    assert acc[10.0][1] < 0.8 * acc[10.0][0]  # the push loss falls when it is trained
    assert acc[0.0][1] == pytest.approx(acc[0.0][0], abs=0.05)  # and stays put (phi untrained) when it is off
    assert acc[10.0][2] == 1.0 and acc[0.0][2] < 1.0


@pytest.mark.parametrize("amx, avx512_bf16", [(False, False), (True, False), (False, True)])
def test_bf16_is_warned_only_where_the_cpu_emulates_it(monkeypatch, amx, avx512_bf16):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    cpu = torch.device("cpu")
    assert native_bf16(cpu) == (amx or avx512_bf16)
    warning = emulated_bf16_warning("bf16", cpu)
    assert (warning is None) == (amx or avx512_bf16)
    assert warning is None or ("emulated" in warning and "fp32" in warning)
    assert emulated_bf16_warning("fp32", cpu) is None
