"""`cmmnet generate`: one neutral photo + a label -> K + 1 smile videos (conditional + K modes) of that person.

Argument parsing and reporting only: the work is :mod:`cmmnet.generate` (what ``--out`` holds is described in
:mod:`cmmnet.generate.outputs`).
"""

from __future__ import annotations

import argparse
from typing import get_args

from ..errors import CmmnetError
from ..generate.config import GenerateConfig, Precision, Renderer
from ..generate.outputs import OutputConfig
from ..generate.timing import MAX_INTENSITY, TimingConfig
from ..limits import MAX_MODES, MAX_VIDEO_SIDE, modes_arg, path_arg, seed_arg
from ..render.config import Refine, Shading, WarpRenderConfig


def add_net_arguments(p: argparse.ArgumentParser, precision: str = GenerateConfig.precision,
                      device: str = GenerateConfig.device) -> None:
    """``--weights``, ``--renderer``, ``--refine``, ``--shading``, ``--max-side``, ``--precision``, ``--device`` (the
    commands that load CMM-Net)."""
    p.add_argument("--weights", type=path_arg, default=None,
                   help="weights directory (a `cmmnet train` run: model_index.json, or landmark_generator/ and "
                        "translator/); default: the weights shipped with cmmnet")
    p.add_argument("--precision", choices=get_args(Precision), default=precision,
                   help=f"bf16 autocast; auto = bf16 on a GPU or a CPU with AMX, else fp32 (default {precision})")
    p.add_argument("--device", default=device, help=f"auto (GPU when available), cpu, cuda, cuda:N (default {device})")
    p.add_argument("--renderer", choices=get_args(Renderer), default=GenerateConfig.renderer,
                   help="warp (default): the photo's own pixels moved along the generated landmarks, at the photo's "
                        "resolution; paper: the 64 px U-Net of the paper paints aligned faces")
    refine = WarpRenderConfig.refine
    p.add_argument("--refine", choices=get_args(Refine), default=refine,
                   help="warp renderer: on = the weights' refinement network paints what a warp cannot make (mouth "
                        f"inside, closing lids, shading) when the weights have one; off = the plain warp (default "
                        f"{refine})")
    shading = WarpRenderConfig.shading
    p.add_argument("--shading", choices=get_args(Shading), default=shading,
                   help="warp renderer: smile = the skin's shading a smile changes (folds beside the mouth, cheeks; a "
                        f"mean over FRL-London's people) as the mouth widens; none = the warp's pixels alone (default "
                        f"{shading})")
    p.add_argument("--max-side", type=int, default=GenerateConfig.max_side,
                   help=f"warp renderer: the videos' longer side is at most this (default {GenerateConfig.max_side}; "
                        f"0 = the photo's own; either way at most {MAX_VIDEO_SIDE}, which bounds memory)")


def net_config(args: argparse.Namespace) -> GenerateConfig:
    if not 0 <= args.max_side <= MAX_VIDEO_SIDE:
        raise CmmnetError(f"--max-side {args.max_side}: use a size in pixels up to {MAX_VIDEO_SIDE} (bounded memory), "
                          "or 0 for the photo's own")
    return GenerateConfig(precision=args.precision, device=args.device, renderer=args.renderer,
                          max_side=args.max_side, render=WarpRenderConfig(refine=args.refine, shading=args.shading))


def add_timing_arguments(p: argparse.ArgumentParser) -> None:
    """The clip's controls (:class:`TimingConfig`): ``--intensity``, ``--frames``, ``--fps``, ``--no-return``."""
    d = TimingConfig()
    p.add_argument("--intensity", type=float, default=d.intensity,
                   help=f"the smile's motion scaled around the neutral face, 0..{MAX_INTENSITY:g} (default "
                        f"{d.intensity:g})")
    p.add_argument("--frames", type=int, default=d.frames,
                   help="frames of the smile's onset (the generated ones resampled smoothly in time); default: real "
                        "speed (the frame rate of the weights' training data)")
    p.add_argument("--fps", type=int, default=d.fps, help=f"video frame rate (default {d.fps})")
    p.add_argument("--no-return", dest="ending", action="store_const", const="apex", default=d.ending,
                   help="end the videos at the apex (default: neutral -> smile -> a short hold -> back to neutral)")


def timing_from_args(args: argparse.Namespace) -> TimingConfig:
    return TimingConfig(intensity=args.intensity, frames=args.frames, fps=args.fps, ending=args.ending)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="generate K + 1 smile videos of the person in a neutral photo")
    p.add_argument("--image", type=path_arg, required=True, help="photo with a (roughly frontal, neutral) face")
    p.add_argument("--label", required=True, help="smile type: posed or spontaneous (the weights' label names)")
    p.add_argument("--modes", type=modes_arg, default=None,
                   help=f"K mode sequences besides the conditional one (1..{MAX_MODES}; default: the weights' K)")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (same seed = same videos)")
    add_timing_arguments(p)
    p.add_argument("--crop", action="store_true",
                   help=f"warp renderer: also write videos of the aligned face at {OutputConfig.video_size} px")
    p.add_argument("--paste", action="store_true",
                   help="paper renderer: also write full-resolution videos of the face pasted back into the photo")
    add_net_arguments(p)
    p.add_argument("--out", type=path_arg, required=True, help="output directory (written atomically)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..faces.image_io import check_image_path
    from ..generate.front_end import FaceFrontEnd
    from ..generate.outputs import check_options
    from ..io import check_output

    config = net_config(args)
    paste, crop = ("paste" if args.paste else "none"), ("crop" if args.crop else "none")
    check_options(args.renderer, paste, crop)
    timing = timing_from_args(args)
    check_image_path(args.image)  # before loading anything
    check_output(args.out)
    face = FaceFrontEnd(args.image)  # dlib loads its models there while torch loads here
    from ..generate.outputs import write_generation
    from ..generate.pipeline import CMMNet

    net = CMMNet.from_pretrained(args.weights, config)
    meta = write_generation(net, args.image, args.label, args.modes, args.seed, args.out,
                            paste=paste, face=face, crop=crop, timing=timing)
    files = meta["files"]["videos"] + meta["files"]["crop_videos"] + meta["files"]["pasted_videos"]
    video = meta["video"]
    print(f"wrote {args.out}/: {', '.join(files)} ({video['frames']} frames, {video['seconds']:g} s at "
          f"{video['fps']} fps), preview.gif, landmarks.npy, sheet.png, meta.json")
    return 0
