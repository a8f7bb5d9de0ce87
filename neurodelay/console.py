"""What neurodelay tells the person running it: one verbosity for the process, and progress bars
only where someone watches a terminal.

Levels: ``QUIET`` (errors and each command's final result line only), ``NORMAL`` (one line per
stage and per training epoch, and notes such as data binning reports) and ``VERBOSE`` (also
per-layer spike rates, learning rates and a line every tenth of an epoch's batches). The CLI sets the level from
``--quiet`` / ``--verbose``; Python callers use :func:`set_verbosity`.

Progress bars redraw a line with carriage returns; written to a file or a pipe every redraw
becomes text, so :func:`progress_bars` is true only when stdout and the bar's stream (stderr) are
terminals and the level is not quiet. Without bars, the trainer reports by lines (one per epoch).
"""
from __future__ import annotations

import sys
from typing import TextIO

QUIET, NORMAL, VERBOSE = 0, 1, 2
_verbosity = NORMAL


def set_verbosity(level: int) -> None:
    """Choose ``QUIET``, ``NORMAL`` or ``VERBOSE`` for the whole process."""
    global _verbosity
    if level not in (QUIET, NORMAL, VERBOSE):
        raise ValueError(f"verbosity {level!r}: allowed QUIET (0), NORMAL (1), VERBOSE (2)")
    _verbosity = level


def verbosity() -> int:
    return _verbosity


def is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:  # a closed stream
        return False


def progress_bars() -> bool:
    """True when progress bars may be drawn: stdout and stderr (where bars go) are terminals and
    the level is not quiet."""
    return _verbosity >= NORMAL and is_terminal(sys.stdout) and is_terminal(sys.stderr)


def info(message: str) -> None:
    """A stage or epoch line (stdout), shown unless quiet."""
    if _verbosity >= NORMAL:
        print(message, flush=True)


def detail(message: str) -> None:
    """A line for ``--verbose`` only (stdout)."""
    if _verbosity >= VERBOSE:
        print(message, flush=True)


def note(message: str) -> None:
    """A side remark about the data or a lossy step (stderr), shown unless quiet."""
    if _verbosity >= NORMAL:
        print(message, file=sys.stderr, flush=True)
