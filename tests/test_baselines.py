"""The baselines of paper §4.1: CRA-Net and Video-GAN models, and their training phases on a tiny real dataset."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from cmmnet.errors import CmmnetError
from cmmnet.models.cra_net import CRANet, CRANetConfig
from cmmnet.models.io import load_pretrained, read_model_index
from cmmnet.models.patch_discriminator import PatchDiscriminatorConfig
from cmmnet.models.video_gan import VideoGANConfig, VideoGANDiscriminator, VideoGANGenerator
from cmmnet.training.baselines import CRANetPhaseConfig, VideoGANPhaseConfig, train_cranet, train_videogan
from cmmnet.training.run import Run
from test_evaluation import tiny_dataset

TINY_CRA = CRANetConfig(image_size=64, T=16, channels=(8, 16, 32, 64), lstm_hidden=32, label_dim=4)
TINY_VGAN = VideoGANConfig(image_size=64, T=16, generator_channels=(32, 16, 8, 8), encoder_channels=(8, 8, 16, 16),
                           discriminator_channels=(8, 8, 16, 16), code_dim=16)


@pytest.fixture(scope="module")
def data(frl_dir, tmp_path_factory):
    from cmmnet.data import load_dataset

    return load_dataset(tiny_dataset(frl_dir, tmp_path_factory.mktemp("bl") / "tiny", people=3, T=16))


def test_cranet_shapes_and_residual_start():
    torch.manual_seed(0)
    m = CRANet(TINY_CRA).eval()
    x = torch.rand(2, 16, 3, 64, 64) * 2 - 1
    out = m(x, torch.tensor([0, 1]))
    assert out["generated"].shape == (2, 16, 3, 64, 64) and out["reconstruction"].shape == (2, 16, 3, 64, 64)
    assert out["embeddings"].shape == (2, 16, 100)
    torch.testing.assert_close(out["embeddings"][:, 0], out["mu"][:, 0])  # h_0 is the neutral frame's embedding
    sub = m(x[:, [0, 3, 9]], torch.tensor([0, 1]), torch.tensor([0, 3, 9]))  # frame 0 + a draw of frames
    torch.testing.assert_close(sub["embeddings"], out["embeddings"][:, [0, 3, 9]])
    torch.testing.assert_close(sub["generated"], out["generated"][:, [0, 3, 9]])
    v = m.generate(x[:, 0], torch.tensor([0, 1]))
    assert v.shape == (2, 16, 3, 64, 64) and v.abs().max() <= 1
    a, b = m.generate(x[:1, 0], torch.tensor([0])), m.generate(x[:1, 0], torch.tensor([1]))
    assert not torch.allclose(a[:, 1:], b[:, 1:])  # the label conditions the sequence
    with pytest.raises(CmmnetError, match="image_size"):
        CRANet(CRANetConfig(image_size=48))


def test_videogan_two_streams_and_discriminator():
    torch.manual_seed(0)
    g = VideoGANGenerator(TINY_VGAN).eval()
    first = torch.rand(2, 3, 64, 64) * 2 - 1
    with torch.no_grad():
        video, mask = g(first, return_mask=True)
        assert video.shape == (2, 16, 3, 64, 64) and mask.shape == (2, 16, 1, 64, 64)
        assert 0 <= mask.min() and mask.max() <= 1
        # the composition m * f + (1 - m) * b: where the mask is 0 the video is the static background
        code = g.encoder(first)
        b = g.background(code[:, :, None, None])  # (2, 3, S, S)
        f = g.video_head(g.foreground(code[:, :, None, None, None])).transpose(1, 2)
        torch.testing.assert_close(video, mask * f + (1 - mask) * b[:, None])
        logits = VideoGANDiscriminator(TINY_VGAN)(video)
    assert logits.shape == (2,)
    with pytest.raises(CmmnetError, match="multiples of 16"):
        VideoGANGenerator(VideoGANConfig(T=20))


def _epochs(run_dir, key):
    recs = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r[key] for r in recs if key in r]


def test_train_cranet_learns_saves_and_resumes(data, tmp_path):
    cfg = CRANetPhaseConfig(model=TINY_CRA, discriminator=PatchDiscriminatorConfig(channels=(8, 16, 32, 64)),
                            epochs=4, batch_size=2, lr=1e-3)
    with Run(tmp_path / "run", {"cranet": "test"}, seed=0, tensorboard=False, log_every=100) as run:
        train_cranet(cfg, data, run)
    model, mcfg = load_pretrained(CRANet, CRANetConfig, tmp_path / "run" / "cra_net")
    assert mcfg.T == 16 and mcfg.label_names == ("posed", "spontaneous")
    l1 = _epochs(tmp_path / "run", "epoch_l1_seq")
    assert len(l1) == 4 and l1[-1] < 0.9 * l1[0], l1
    # resume of a complete phase: nothing retrained, same weights
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with Run(tmp_path / "run", {"cranet": "test"}, seed=0, tensorboard=False, resume=True) as run:
        train_cranet(cfg, data, run)
    after, _ = load_pretrained(CRANet, CRANetConfig, tmp_path / "run" / "cra_net")
    assert all(torch.equal(before[k], v) for k, v in after.state_dict().items())
    assert len(_epochs(tmp_path / "run", "epoch_l1_seq")) == 4


def test_train_cranet_is_deterministic(data, tmp_path):
    cfg = CRANetPhaseConfig(model=TINY_CRA, discriminator=PatchDiscriminatorConfig(channels=(8, 8, 8, 8)),
                            epochs=1, batch_size=2, frames_per_sequence=4)
    weights = []
    for name in ("a", "b"):
        with Run(tmp_path / name, {"cranet": "det"}, seed=3, tensorboard=False) as run:
            train_cranet(cfg, data, run)
        weights.append(load_pretrained(CRANet, CRANetConfig, tmp_path / name / "cra_net")[0].state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])


def test_train_videogan_one_model_per_label(data, tmp_path):
    cfg = VideoGANPhaseConfig(model=TINY_VGAN, epochs=2, batch_size=2)
    with Run(tmp_path / "run", {"videogan": "test"}, seed=0, tensorboard=False, log_every=100) as run:
        train_videogan(cfg, data, run)
    for label in ("posed", "spontaneous"):
        g, mcfg = load_pretrained(VideoGANGenerator, VideoGANConfig, tmp_path / "run" / "video_gan" / label)
        assert mcfg.label == label and mcfg.T == 16
        assert (tmp_path / "run" / "checkpoints" / f"videogan-{label}.safetensors").is_file()
    first = _epochs(tmp_path / "run", "epoch_l1_first")
    assert len(first) == 4 and np.isfinite(first).all()


def test_cmmnet_train_baseline_phases_smoke(data, tmp_path):
    """The same command as CMM-Net's: `cmmnet train --phases cranet,videogan` with the smoke preset."""
    from cmmnet.cli import main

    out = tmp_path / "run"
    assert main(["train", "--data", str(data.path), "--out", str(out), "--phases", "cranet,videogan",
                 "--preset", "smoke"]) == 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["cranet"]["model"]["width"] == 0.125 and cfg["videogan"]["epochs"] == 1
    assert (out / "cra_net" / "model.safetensors").is_file()
    assert sorted(p.name for p in (out / "video_gan").iterdir()) == ["posed", "spontaneous"]
    assert read_model_index(out) == {"cra_net": "CRANet", "video_gan/posed": "VideoGANGenerator",
                                     "video_gan/spontaneous": "VideoGANGenerator"}


@pytest.mark.slow
def test_end_to_end_train_evaluate_study(data, tmp_path, capsys):
    """All phases (CMM-Net + both baselines) with the smoke preset, then `evaluate`, then a study from its videos."""
    from cmmnet.cli import main

    run, report, study = tmp_path / "run", tmp_path / "report", tmp_path / "study"
    phases = "vae,lstm,multimode,translation,cranet,videogan"  # the default is CMM-Net's own phases only
    assert main(["train", "--data", str(data.path), "--out", str(run), "--phases", phases, "--preset", "smoke"]) == 0
    assert main(["evaluate", "--runs", str(run), "--data", str(data.path), "--out", str(report)]) == 0
    md = (report / "report.md").read_text()
    assert all(f"| {m} |" in md for m in ("Original", "CMM-Net", "CMM-Net (warp)", "CRA-Net", "Video-GAN"))
    videos = {p.name.split("-")[0]: p for p in (report / "videos").iterdir()}
    assert set(videos) == {"cmmnet", "cmmnetwarp", "cranet", "videogan"}  # CMM-Net with each renderer
    assert main(["study", "make", "--a", str(videos["cmmnet"]), "--b", str(videos["cranet"]), "--out", str(study),
                 "--pairs", "2"]) == 0
    key = json.loads((study / "key.json").read_text())
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"study": key["study"], "answers": [{"pair": p["pair"], "choice": "similar"}
                                                                      for p in key["pairs"]]}))
    capsys.readouterr()
    assert main(["study", "tally", "--key", str(study / "key.json"), str(answers)]) == 0
    assert "100.00%" in capsys.readouterr().out
