"""The ``neurodelay`` command: argument parsing only; each subcommand lives in ``neurodelay.commands``.

A subcommand module defines ``register(subparsers)``, which adds its parser and sets
``handler=function(args) -> int``. Errors the project raises on purpose print one line and exit 1;
``--debug`` shows the traceback instead. Library modules log through :mod:`logging` (logger names under
``neurodelay``); the command shows their INFO messages on stdout and warnings on stderr, one line each.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import traceback

from .errors import NeurodelayError

COMMAND_MODULES = (
    "neurodelay.commands.info",
    "neurodelay.commands.validate",
    "neurodelay.commands.demo",
    "neurodelay.commands.train",
    "neurodelay.commands.quantize",
    "neurodelay.commands.study",
    "neurodelay.commands.parity",
    "neurodelay.commands.export",
    "neurodelay.commands.import_nir",
    "neurodelay.commands.gradcheck",
)


def build_parser() -> argparse.ArgumentParser:
    from .targets import all_targets
    chips = ", ".join(target.description for target in all_targets().values() if target.can("deploy"))
    parser = argparse.ArgumentParser(prog="neurodelay", description="Train spiking networks with "
                                     f"learnable delays and deploy them to neuromorphic chips ({chips}).")
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


class _CurrentStream(logging.StreamHandler):
    """A handler writing to whatever ``sys.stdout`` / ``sys.stderr`` is when a record arrives (callers,
    tests among them, may replace the streams between commands)."""

    def __init__(self, stream_name: str) -> None:
        super().__init__()
        self._stream_name = stream_name

    @property
    def stream(self):  # type: ignore[override]
        return getattr(sys, self._stream_name)

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging() -> None:
    """INFO messages of the ``neurodelay`` loggers to stdout as they are, warnings and errors to stderr
    prefixed with their level; done once per process."""
    package = logging.getLogger("neurodelay")
    if any(isinstance(handler, _CurrentStream) for handler in package.handlers):
        return
    progress = _CurrentStream("stdout")
    progress.setFormatter(logging.Formatter("%(message)s"))
    progress.addFilter(lambda record: record.levelno < logging.WARNING)
    problems = _CurrentStream("stderr")
    problems.setLevel(logging.WARNING)
    problems.setFormatter(logging.Formatter("neurodelay: %(levelname)s: %(message)s"))
    package.addHandler(progress)
    package.addHandler(problems)
    package.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    configure_logging()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except NeurodelayError as error:
        if args.debug:
            traceback.print_exc()
        print(f"neurodelay {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"neurodelay {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an unexpected failure is a bug: say so in one line unless --debug
        if args.debug:
            raise
        print(f"neurodelay {args.command}: internal error: {type(error).__name__}: {error} "
              "(run with --debug for the traceback and please report it)", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
