"""The ``cmmnet`` command line.

Each subcommand lives in its own module under :mod:`cmmnet.commands` with ``register(subparsers)`` (adds its
parser and sets ``func``). Errors the user can fix (:class:`~cmmnet.errors.CmmnetError`) become one line on
stderr and exit code 2, with no traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys

from .errors import CmmnetError

# Explicit list, no reflection: (module path, help shown in `cmmnet --help`).
_COMMANDS = (
    "cmmnet.commands.faces_cmd",
    "cmmnet.commands.demo_cmd",
    "cmmnet.commands.generate_cmd",
    "cmmnet.commands.prepare_cmd",
    "cmmnet.commands.synth_cmd",
    "cmmnet.commands.show_cmd",
    "cmmnet.commands.evaluate_cmd",
    "cmmnet.commands.study_cmd",
    "cmmnet.commands.train_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    import importlib

    from . import __version__

    parser = argparse.ArgumentParser(prog="cmmnet", description="CMM-Net: diverse smile videos from one neutral face")
    parser.add_argument("--version", action="version", version=f"cmmnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["cmmnet", *(sys.argv[1:] if argv is None else argv)]  # the command line, recorded in run dirs
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CmmnetError as e:
        print(f"cmmnet {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"cmmnet {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
