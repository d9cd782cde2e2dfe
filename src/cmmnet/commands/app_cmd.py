"""`cmmnet app`: a local web page to try a photo (Gradio; ``pip install cmmnet[app]``); it works offline."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="a local web page: upload a photo, see its smile videos, download them")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--weights", type=Path, default=None,
                   help="directory with landmark_generator/ and translator/ (default: the shipped weights)")
    p.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                   help="bf16 autocast; auto (default) = bf16 on a GPU or a CPU with AMX, else fp32")
    p.add_argument("--device", default="auto", help="auto (GPU when available), cpu, cuda, cuda:N")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..app.page import import_gradio, serve

    import_gradio()  # fails with the install hint before the weights load
    from ..generate import CMMNet, GenerateConfig
    from .demo_cmd import example_image

    net = CMMNet.from_pretrained(args.weights, GenerateConfig(precision=args.precision, device=args.device))
    print(f"cmmnet app: open http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(net, example_image(), args.host, args.port)
    return 0
