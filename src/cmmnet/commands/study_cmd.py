"""`cmmnet study make` / `cmmnet study tally`: the blinded A/B user study of paper §4.3 (Table 2).

``make --a A --b B --out DIR [--pairs N] [--seed S]``: A and B are video directories (``REPORT/videos/<method>``
from `cmmnet evaluate`, one folder per label) or training runs (then ``--data DATASET`` is needed and the test
videos are generated; ``--method-a/--method-b`` pick CMM-Net, CRA-Net or Video-GAN when a run holds several).
Writes ``DIR/index.html`` (open it in any browser; no server), ``DIR/videos/`` and ``DIR/key.json`` (keep it: it
says which method is on which side).

``tally --key DIR/key.json ANSWERS.json [...]``: the preference table (% method A, % method B, % similar, per
label) of the answer files the page saved.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from ..limits import path_arg, seed_arg


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("study", help="user study: blinded A/B video page and preference tally (Table 2)",
                       description=__doc__.splitlines()[0])
    s = p.add_subparsers(dest="study_command", metavar="{make,tally}", required=True)
    m = s.add_parser("make", help="build the static A/B study page")
    m.add_argument("--a", required=True, type=path_arg, metavar="RUN_OR_VIDEOS", help="method A: video dir or run")
    m.add_argument("--b", required=True, type=path_arg, metavar="RUN_OR_VIDEOS", help="method B: video dir or run")
    m.add_argument("--out", required=True, type=path_arg, metavar="DIR", help="study directory to write")
    m.add_argument("--pairs", type=int, default=37, help="pairs shown (default 37, as the paper)")
    m.add_argument("--seed", type=seed_arg, default=0, help="seed of the pair draw and the side order")
    m.add_argument("--data", type=path_arg, metavar="DATASET", help="dataset whose test split a run generates")
    m.add_argument("--method-a", help="CMM-Net, CRA-Net or Video-GAN, when run A holds several")
    m.add_argument("--method-b", help="CMM-Net, CRA-Net or Video-GAN, when run B holds several")
    m.set_defaults(func=run_make)
    t = s.add_parser("tally", help="print the preference table of answer files")
    t.add_argument("--key", required=True, type=path_arg, help="DIR/key.json written by `study make`")
    t.add_argument("answers", nargs="+", type=path_arg, help="answer JSON files downloaded from the page")
    t.set_defaults(func=run_tally)


def _is_run(path: Path) -> bool:
    return any((path / d).is_dir() for d in ("landmark_generator", "cra_net", "video_gan"))


def _source(path: Path, method: str | None, data, tmp: Path, pairs: int, seed: int, side: str) -> tuple[Path, str]:
    """A video directory for one side (generated from a run when ``path`` is a run)."""
    from ..errors import CmmnetError

    if not _is_run(path):  # a video folder; `evaluate` names them <method>-<weights hash>
        prefix, _, rest = path.name.partition("-")
        nice = {"cmmnet": "CMM-Net", "cmmnetwarp": "CMM-Net (warp)", "cranet": "CRA-Net", "videogan": "Video-GAN"
                }.get(prefix)
        return path, f"{nice} ({rest})" if nice and rest else path.name
    if data is None:
        raise CmmnetError(f"--{side} {path} is a training run: add --data DATASET to generate its test videos")
    from ..evaluation.methods import find_methods, write_videos

    found = find_methods(path)
    if method:
        found = [m for m in found if m.name.lower().replace("-", "") == method.lower().replace("-", "")]
    if len(found) != 1:
        names = [m.name for m in find_methods(path)]
        raise CmmnetError(f"--{side} {path} holds {names}; choose one with --method-{side} NAME")
    out = tmp / side
    write_videos(found[0], data, out, per_label=pairs, seed=seed)
    return out, found[0].name


def run_make(args: argparse.Namespace) -> int:
    from ..data.format import load_dataset
    from ..io import check_output
    from ..study import make_study

    check_output(args.out)  # before the work
    data = load_dataset(args.data) if args.data else None
    with tempfile.TemporaryDirectory(prefix="cmmnet-study-") as tmp:
        a, name_a = _source(args.a, args.method_a, data, Path(tmp), args.pairs, args.seed, "a")
        b, name_b = _source(args.b, args.method_b, data, Path(tmp), args.pairs, args.seed, "b")
        key = make_study(a, b, args.out, pairs=args.pairs, seed=args.seed, name_a=name_a, name_b=name_b)
    print(f"{args.out / 'index.html'}: {len(key['pairs'])} pairs ({name_a} vs {name_b}); "
          f"key in {args.out / 'key.json'}")
    return 0


def run_tally(args: argparse.Namespace) -> int:
    from ..study import format_table, tally

    print(format_table(tally(args.key, args.answers)))
    return 0
