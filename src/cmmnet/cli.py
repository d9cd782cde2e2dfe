"""The ``cmmnet`` command line.

Each subcommand lives in its own module under :mod:`cmmnet.commands` with ``register(subparsers)`` (adds its
parser and sets ``func``). Errors the user can fix (:class:`~cmmnet.errors.CmmnetError`, a bad argument, an
operating-system error such as a full disk) become one line on stderr and exit code 2, with no traceback; Ctrl-C
is one line and exit code 130. Log lines reach stderr only when they are warnings, or with ``-v``.
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys

from .errors import CmmnetError

# Explicit list, no reflection: (module, the subcommands it registers). Only the module of the command being run is
# imported (the others pull in torch, scipy, ...: `cmmnet generate` should not pay for `cmmnet train`'s imports).
_COMMANDS = (
    ("cmmnet.commands.faces_cmd", ("landmarks", "align")),
    ("cmmnet.commands.demo_cmd", ("demo",)),
    ("cmmnet.commands.generate_cmd", ("generate",)),
    ("cmmnet.commands.augment_cmd", ("augment",)),
    ("cmmnet.commands.app_cmd", ("app",)),
    ("cmmnet.commands.prepare_cmd", ("prepare",)),
    ("cmmnet.commands.synth_cmd", ("synth",)),
    ("cmmnet.commands.show_cmd", ("show",)),
    ("cmmnet.commands.evaluate_cmd", ("evaluate",)),
    ("cmmnet.commands.study_cmd", ("study",)),
    ("cmmnet.commands.train_cmd", ("train",)),
    ("cmmnet.commands.reproduce_cmd", ("reproduce",)),
)


def _requested(argv: list[str]) -> str | None:
    """The subcommand named on the command line (its first non-option word), if it is one of ours."""
    word = next((a for a in argv if not a.startswith("-")), None)
    return word if any(word in names for _, names in _COMMANDS) else None


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block); subparsers inherit the class."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every subcommand, or only ``command``'s (imports only that command's module)."""
    import importlib

    from . import __version__

    parser = _Parser(prog="cmmnet", description="CMM-Net: diverse smile videos from one neutral face")
    parser.add_argument("--version", action="version", version=f"cmmnet {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="info and debug log lines on stderr (default: warnings only)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module, names in _COMMANDS:
        if command is None or command in names:
            importlib.import_module(module).register(sub)
    return parser


def _run(words: list[str]) -> int:
    parser = build_parser(_requested(words))
    args = parser.parse_args(words)
    args.argv = ["cmmnet", *words]  # the command line, recorded in run dirs
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s" if args.verbose else "cmmnet: %(levelname)s: %(message)s",
        stream=sys.stderr,
        force=True,  # main() may run more than once in a process (tests)
    )
    logging.addLevelName(logging.WARNING, "warning")
    for handler in logging.getLogger().handlers:  # a library raising its logger's level (train.log) adds no lines
        handler.setLevel(logging.DEBUG if args.verbose else logging.WARNING)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except CmmnetError as e:
        _error(args.command, str(e))
        return 2
    except OSError as e:  # the system refused: disk full, read-only file system, ...
        where = f"{e.filename}: " if e.filename else ""
        _error(args.command, f"{where}{e.strerror or e}")
        return 2
    except MemoryError:
        _error(args.command, "out of memory; use a smaller input or free memory")
        return 2


def _error(command: str | None, message: str) -> None:
    text = " ".join(message.split())  # always one line
    print(f"cmmnet{' ' + command if command else ''}: error: {text}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    try:
        return _run(words)
    except KeyboardInterrupt:
        command = _requested(words)
        print(f"cmmnet{' ' + command if command else ''}: interrupted", file=sys.stderr)
        return 130


# Python's cyclic collector runs every 700 new container objects: ~400 times while torch is imported (0.25 s of a
# `cmmnet generate`). A process that lives for one command collects every 200 000; its reference counting still frees
# everything that is not part of a cycle at once.
_GC_THRESHOLDS = (200_000, 30, 30)


def entry() -> int:
    """The ``cmmnet`` program (the console script and ``python -m cmmnet.cli``): :func:`main` in a process that ends
    when it returns. The cyclic collector runs less often (:data:`_GC_THRESHOLDS`), and the objects alive when the
    command is done are frozen (:func:`gc.freeze`), so that Python's shutdown does not walk torch's objects again
    in its final collections (0.45 s of a `cmmnet generate`, measured; the process drops them all as it exits)."""
    gc.set_threshold(*_GC_THRESHOLDS)
    try:
        return main()
    finally:
        gc.freeze()


if __name__ == "__main__":
    sys.exit(entry())
