"""The experiment config (one frozen dataclass with a section per component/phase), presets, and the phase table.

``cmmnet train`` builds ``ExperimentConfig()``, applies a preset (a list of ``key=value`` overrides, so a preset
is just a recorded set of ``--set``\\ s), then the user's ``--set`` overrides, and runs the requested phases in the
order of :data:`PHASES`. Presets:

- ``paper``: the paper's schedule (§3.5: VAE 50, LSTM 20, multi-mode 10, translation 20 epochs) and layers.
- ``cpu``:   the paper's layers on a budget that trains the three landmark phases on FRL-Smile's train split on 2
  CPU cores in <= 45 min (measured with benchmarks/bench_landmark.py; see docs/landmark-generator.md): fewer
  epochs, 4 frames sampled per sequence and step, one intra-op thread (on a shared 2-core machine two threads
  measured 5x slower than one).
- ``cpu-points``: ``cpu``'s VAE phase, then the landmark phases 2-3 on the linear read-out's points (LSTMs in
  embedding space, no decoding; best-of-K modes beside pull and push): docs/landmark-generator.md.
- ``cpu`` also sizes the warp renderer's refinement network R (phase ``refinement``, FRL-Smile at 128 px) for
  <= 90 min on 2 cores: 24 epochs of 6 frames per sequence, about 160 s an epoch measured, 64 min
  (docs/translation.md, "Refinement network R").
- ``smoke``: tiny (narrow layers, one epoch, a couple of frames per sequence) for tests and a quick check.

The baselines of §4.1 (``cranet``, ``videogan``; :mod:`cmmnet.training.baselines`, docs/evaluation.md) are phases
too, so they train on the same data with the same command (``--phases cranet,videogan``), and so is the warp
renderer's refinement network R (``--phases refinement``, on FRL-Smile at 128 px; docs/translation.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..data.format import SmileDataset
from ..models.landmark_generator import LandmarkGeneratorConfig
from .baselines import CRANetPhaseConfig, VideoGANPhaseConfig, train_cranet, train_videogan
from .landmark import (
    LSTMPhaseConfig,
    MultiModePhaseConfig,
    VAEPhaseConfig,
    train_lstm,
    train_multimode,
    train_vae,
)
from .refinement import RefinementPhaseConfig, train_refinement
from .run import Run, RunConfig
from .translation import TranslationPhaseConfig, train_translation


@dataclass(frozen=True)
class ExperimentConfig:
    run: RunConfig = field(default_factory=RunConfig)
    landmark_generator: LandmarkGeneratorConfig = field(default_factory=LandmarkGeneratorConfig)
    vae: VAEPhaseConfig = field(default_factory=VAEPhaseConfig)
    lstm: LSTMPhaseConfig = field(default_factory=LSTMPhaseConfig)
    multimode: MultiModePhaseConfig = field(default_factory=MultiModePhaseConfig)
    translation: TranslationPhaseConfig = field(default_factory=TranslationPhaseConfig)
    cranet: CRANetPhaseConfig = field(default_factory=CRANetPhaseConfig)  # baseline, §4.1
    videogan: VideoGANPhaseConfig = field(default_factory=VideoGANPhaseConfig)  # baseline, §4.1
    refinement: RefinementPhaseConfig = field(default_factory=RefinementPhaseConfig)  # the warp renderer's R


_CPU = (
    "run.num_threads=1",
    "vae.epochs=12",
    "vae.frames_per_sequence=4",
    "lstm.epochs=10",
    "lstm.frames_per_sequence=4",
    "multimode.epochs=8",
    "multimode.frames_per_sequence=4",
    "cranet.model.width=0.25",
    "cranet.discriminator.width=0.25",
    "cranet.epochs=8",
    "cranet.frames_per_sequence=4",
    "videogan.model.width=0.25",
    "videogan.epochs=5",
    "videogan.batch_size=4",
    "refinement.epochs=24",
    "refinement.frames_per_sequence=6",
)
# The landmark phases 2-3 on the read-out's points (docs/landmark-generator.md, "Where realism is lost"): the VAE
# as in `cpu` plus a point head on its mean (round trip of real smiles 0.039 -> 0.028 IOD), then LSTMs trained in
# embedding space (no decoding, so many more epochs fit the budget), the conditional row on the median shape (l1),
# the modes by best-of-K reconstruction beside pull and push (20 epochs: at 8 two modes shared the closed-lip smile
# and none took the closed eyes, NMI 0.58 against FRL-Smile's styles), both with temporal smoothness (the first
# steps' jump made the jitter 1.3x the data's; 0.9x with it). The conditional LSTM starts from zeros and is fed its
# own motion (h_{t-1} - h0), so its smile is the same motion for every person of a label: on FRL-London the neutral
# face predicts the smile no better than the typical smile does, and a motion read from h0 widened new people's
# posed smiles by +38 % (the train people's by -4 %); the modes still read the person's sequence. The pull (eq. 2)
# holds the modes' per-dimension median, not their mean, to that median smile: with the mean, the modes that open
# the mouth or close the eyes (each fitting its own way of smiling, wider than the median) made the third one
# narrow its smile and widen its eyes to pay for them (smallest mode gain 0.055-0.071 IOD over two seeds, 0.10-0.11
# with the median; docs/landmark-generator.md). The VAE sees anti-aliased lines and randomly moved shapes, and the
# read-out is fitted on shapes moved alike: the round trip of unseen people's real smiles 0.029 -> 0.016 IOD (a
# binary 64 px drawing alone moves each point by 0.025); on that embedding the modes kept FRL-Smile's styles only
# with the eyes weighted in their best-of-K error (purity 0.66-0.78 -> 0.99-1.0 over two seeds). The conditional
# row's velocities are held to the data's three times as hard as at first: on this embedding, at 1, the posed smile
# crept on over its plateau to the last frame (widest mouth at frame 31, as spontaneous; 24 at 3).
_CPU_POINTS = (
    *_CPU,
    "vae.point_weight=100",
    'landmark_generator.draw.raster="antialiased"',
    "vae.shape_augment=0.5",
    "lstm.readout_shape_augment=0.5",
    "multimode.modes_eye_weight=10",
    'landmark_generator.lstm.init="zeros"',
    'landmark_generator.lstm.feed="motion"',
    'landmark_generator.readout="linear"',
    'lstm.target="points"',
    "lstm.epochs=90",
    "lstm.batch_size=32",
    "lstm.lr=0.002",
    "lstm.smooth_weight=1",
    "lstm.velocity_weight=3",
    'multimode.target="points"',
    'multimode.recon="best_of_k"',
    "multimode.epochs=20",
    "multimode.batch_size=32",
    "multimode.lr=0.002",
    'multimode.pull_average="median"',
    "multimode.finetune_lr=0",
    "multimode.smooth_weight=1",
)

PRESETS: dict[str, tuple[str, ...]] = {
    "paper": (),
    "cpu": _CPU,
    "cpu-points": _CPU_POINTS,
    "smoke": (
        "landmark_generator.vae.channels=[4,8,8,16]",
        "landmark_generator.lstm.hidden_size=16",
        "landmark_generator.multimode.hidden_size=16",
        "landmark_generator.points.components=8",
        "landmark_generator.points.iterations=5",
        "vae.epochs=1",
        "vae.batch_size=16",
        "vae.frames_per_sequence=4",
        "lstm.epochs=1",
        "lstm.batch_size=4",
        "lstm.frames_per_sequence=2",
        "multimode.epochs=1",
        "multimode.batch_size=4",
        "multimode.frames_per_sequence=2",
        "translation.epochs=1",
        "translation.batch_size=4",
        "translation.frames_per_sequence=2",
        "translation.val_items=4",
        "translation.translator.width=0.125",
        "translation.discriminator.width=0.125",
        "cranet.model.width=0.125",
        "cranet.model.lstm_hidden=16",
        "cranet.discriminator.width=0.125",
        "cranet.epochs=1",
        "cranet.batch_size=4",
        "cranet.frames_per_sequence=2",
        "videogan.model.width=0.0625",
        "videogan.epochs=1",
        "videogan.batch_size=4",
        "refinement.refiner.width=4",
        "refinement.refiner.levels=2",
        "refinement.refiner.blocks=1",
        "refinement.epochs=1",
        "refinement.batch_size=4",
        "refinement.frames_per_sequence=2",
        "refinement.val_items=4",
        "run.log_every=1",
    ),
}


PhaseFn = Callable[[ExperimentConfig, SmileDataset, Run], None]

# The phases in training order (§3.5): name -> function(experiment config, dataset, run).
PHASES: dict[str, PhaseFn] = {
    "vae": lambda exp, data, run: train_vae(exp.vae, exp.landmark_generator, data, run),
    "lstm": lambda exp, data, run: train_lstm(exp.lstm, exp.landmark_generator, exp.vae.kl_weight, data, run),
    "multimode": lambda exp, data, run: train_multimode(exp.multimode, exp.landmark_generator, exp.vae.kl_weight,
                                                        data, run),
    "translation": lambda exp, data, run: train_translation(exp.translation, data, run),
    "cranet": lambda exp, data, run: train_cranet(exp.cranet, data, run),
    "videogan": lambda exp, data, run: train_videogan(exp.videogan, data, run),
    "refinement": lambda exp, data, run: train_refinement(exp.refinement, data, run),
}
LANDMARK_PHASES = ("vae", "lstm", "multimode")
CMMNET_PHASES = (*LANDMARK_PHASES, "translation")  # `cmmnet train`'s default: CMM-Net without the baselines
BASELINE_PHASES = ("cranet", "videogan")
