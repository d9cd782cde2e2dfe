#!/usr/bin/env bash
# Train the default weights shipped in src/cmmnet/assets/weights/ — the ONE documented command:
#
#     bash scripts/train_default_weights.sh
#
# 1. FRL-Smile from ../shared/faces/frl-london (skipped when $DATA/dataset.json exists),
# 2. the landmark generator (phases vae, lstm, multimode; cpu-points preset) -> $LM_RUN/landmark_generator/,
# 3. the translator G (phase translation; cpu preset + the shipped width) -> $TR_RUN/translator/,
# 4. export: fp16 where it keeps quality, provenance.json          -> src/cmmnet/assets/weights/.
#
# With REFINE=1 (off by default), before the export: FRL-Smile at 128 px ($DATA128) and the warp renderer's
# refinement network R (phase refinement; cpu preset)             -> $RF_RUN/refiner/, exported beside the others.
#
# Steps 2 and 3 are independent (the translator trains on the dataset's ground-truth landmark images, §3.5) and
# may run at the same time on two cores (PARALLEL=1). Every step resumes (--resume) when run again.
# Variables: DATA, FACES, LM_RUN, TR_RUN, PARALLEL (0/1), LM_SET / TR_SET (extra --set for the two trainings),
# TR_PRECISION (bf16 / fp32; by default bf16 where the CPU has bf16 hardware),
# REFINE (0/1), DATA128, RF_RUN, RF_SET (R's training).
# See docs/translation.md ("Default weights") for the settings and the measured times.
set -euo pipefail
cd "$(dirname "$0")/.."

FACES=${FACES:-../shared/faces/frl-london}
DATA=${DATA:-/work/data/frl-smile}
LM_RUN=${LM_RUN:-/work/runs/default-lm}
TR_RUN=${TR_RUN:-/work/runs/default-tr}
PARALLEL=${PARALLEL:-0}
REFINE=${REFINE:-0}
DATA128=${DATA128:-/work/data/frl-smile-128}
RF_RUN=${RF_RUN:-/work/runs/default-refiner}
# R: the cpu preset (24 epochs of 6 frames per sequence, one thread; docs/translation.md, "Refinement network R").
RF_SET=${RF_SET:-"--set run.num_threads=1"}

# The shipped landmark generator: the cpu-points preset (the cpu preset's VAE phase, then the LSTM phases on the
# linear read-out's points, best-of-K modes; docs/landmark-generator.md) on 2 threads.
LM_SET=${LM_SET:-"--set run.num_threads=2"}

# The shipped translator: U-Net at width 0.5 (7.3 M parameters, 14.6 MB in fp16; the paper's width 1.0 is
# 29 M / 58 MB), D at width 0.5, 6 random frames per sequence per epoch (20 epochs), one thread (the machine it was
# trained on had 2 shared cores), bf16 autocast where the CPU has bf16 hardware (AMX or AVX512-BF16: the shipped
# weights were trained so), fp32 elsewhere (emulated bf16 ran 23x slower than fp32 on an AVX2 CPU; fp32 gives
# other weights than the shipped ones).
TR_PRECISION=${TR_PRECISION:-$(python -c "import torch; from cmmnet.runtime import native_bf16
print('bf16' if native_bf16(torch.device('cpu')) else 'fp32')")}
TR_SET=${TR_SET:-"--set translation.translator.width=0.5 --set translation.discriminator.width=0.5
  --set translation.frames_per_sequence=6 --set run.precision=$TR_PRECISION --set run.num_threads=1"}

resume_flag() { [ -f "$1/config.json" ] && echo "--resume" || true; }

if [ ! -f "$DATA/dataset.json" ]; then
  cmmnet synth --faces "$FACES" --out "$DATA" --seed 0 --workers 2
fi

# shellcheck disable=SC2046,SC2086
train_lm() { cmmnet train --data "$DATA" --out "$LM_RUN" --phases vae,lstm,multimode --preset cpu-points $LM_SET $(resume_flag "$LM_RUN"); }
# shellcheck disable=SC2046,SC2086
train_tr() { nice -n 5 cmmnet train --data "$DATA" --out "$TR_RUN" --phases translation --preset cpu $TR_SET $(resume_flag "$TR_RUN"); }

if [ "$PARALLEL" = "1" ]; then
  train_tr > "${TR_RUN%/}.log" 2>&1 &
  tr_pid=$!
  train_lm
  wait "$tr_pid"
else
  train_lm
  train_tr
fi

if [ "$REFINE" = "1" ]; then
  if [ ! -f "$DATA128/dataset.json" ]; then
    cmmnet synth --faces "$FACES" --out "$DATA128" --seed 0 --size 128 --workers 2
  fi
  # shellcheck disable=SC2046,SC2086
  nice -n 5 cmmnet train --data "$DATA128" --out "$RF_RUN" --phases refinement --preset cpu $RF_SET $(resume_flag "$RF_RUN")
  python scripts/export_default_weights.py "$LM_RUN" "$TR_RUN" --refiner-run "$RF_RUN"
else
  python scripts/export_default_weights.py "$LM_RUN" "$TR_RUN"
fi
