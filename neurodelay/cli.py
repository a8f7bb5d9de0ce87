"""The ``neurodelay`` command: argument parsing only; each subcommand lives in ``neurodelay.commands``.

A subcommand module defines ``register(subparsers)``, which adds its parser and sets
``handler=function(args) -> int``. Errors the project raises on purpose print one line and exit 1;
``--debug`` shows the traceback instead. ``--quiet`` / ``--verbose`` (before or after the
subcommand) set :mod:`neurodelay.console`'s verbosity. Output into a pipe whose reader has gone
(``neurodelay info NET | head``) ends the command quietly with :data:`BROKEN_PIPE_EXIT`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import select
import sys
import traceback

from . import console
from .errors import NeurodelayError

BROKEN_PIPE_EXIT = 141
"""Exit status when stdout's reader has gone: 128 + SIGPIPE, as a shell reports a tool SIGPIPE ended."""

COMMAND_MODULES = (
    "neurodelay.commands.info",
    "neurodelay.commands.validate",
    "neurodelay.commands.demo",
    "neurodelay.commands.train",
    "neurodelay.commands.sweep",
    "neurodelay.commands.quantize",
    "neurodelay.commands.study",
    "neurodelay.commands.parity",
    "neurodelay.commands.export",
    "neurodelay.commands.import_nir",
    "neurodelay.commands.gradcheck",
    "neurodelay.commands.plot",
)


def build_parser() -> argparse.ArgumentParser:
    from .targets import all_targets

    chips = ", ".join(target.description for target in all_targets().values() if target.can("deploy"))
    parser = argparse.ArgumentParser(
        prog="neurodelay",
        description=f"Train spiking networks with learnable delays and deploy them to neuromorphic chips ({chips}).",
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    add_verbosity_options(parser, default=console.NORMAL)
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    for subparser in subparsers.choices.values():
        add_verbosity_options(subparser, default=argparse.SUPPRESS)  # keeps a value given before the command
    return parser


def add_verbosity_options(parser: argparse.ArgumentParser, *, default: object) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--quiet",
        "-q",
        dest="verbosity",
        action="store_const",
        const=console.QUIET,
        default=default,
        help="print errors and the final result only",
    )
    group.add_argument(
        "--verbose",
        "-v",
        dest="verbosity",
        action="store_const",
        const=console.VERBOSE,
        default=default,
        help="print more detail (learning rates, spike rates, batch losses)",
    )


def stdout_reader_gone() -> bool:
    """Whether stdout is a pipe whose read end is closed (poll reports an error on it); a broken
    pipe to anything else (an executor's worker) is a failure to report."""
    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLERR)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no poll on this platform, or stdout has no descriptor
        return False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console.set_verbosity(args.verbosity)
    try:
        return int(args.handler(args) or 0)
    except NeurodelayError as error:
        if args.debug:
            traceback.print_exc()
        print(f"neurodelay {args.command}: error: {error}", file=sys.stderr)
        return 1
    except MemoryError as error:  # sizes no check foresaw: still one line, and the cause
        if args.debug:
            traceback.print_exc()
        detail = f" ({' '.join(str(error).split())[:200]})" if str(error) else ""
        print(
            f"neurodelay {args.command}: error: out of memory{detail}; the sizes or durations asked for "
            "need more memory than this machine has",
            file=sys.stderr,
        )
        return 1
    except KeyboardInterrupt:
        print(f"neurodelay {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # an unexpected failure is a bug: say so in one line unless --debug
        if isinstance(error, BrokenPipeError) and stdout_reader_gone():  # `neurodelay info NET | head`
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())  # so that the flush at exit does not fail again
            return BROKEN_PIPE_EXIT
        if args.debug:
            raise
        print(
            f"neurodelay {args.command}: internal error: {type(error).__name__}: {error} "
            "(run with --debug for the traceback and please report it)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
