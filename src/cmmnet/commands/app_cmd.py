"""`cmmnet app`: a local web page to try a photo (Gradio; ``pip install cmmnet[app]``); it works offline."""

from __future__ import annotations

import argparse

from .generate_cmd import add_net_arguments, net_config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("app", help="a local web page: upload a photo, see its smile videos, download them")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    add_net_arguments(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..app.page import import_gradio, serve

    import_gradio()  # fails with the install hint before the weights load
    from ..generate import CMMNet
    from .demo_cmd import example_image

    net = CMMNet.from_pretrained(args.weights, net_config(args))
    print(f"cmmnet app: open http://{args.host}:{args.port}/ (Ctrl-C stops it)")
    serve(net, example_image(), args.host, args.port)
    return 0
