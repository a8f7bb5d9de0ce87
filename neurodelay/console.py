"""What neurodelay tells the person running it: one verbosity for the process, and progress bars
only where someone watches a terminal.

Levels: ``QUIET`` (errors and each command's final result line only), ``NORMAL`` (one line per
stage and per training epoch, and notes such as data binning reports) and ``VERBOSE`` (also
per-layer spike rates, learning rates and a line every tenth of an epoch's batches). The CLI sets the level from
``--quiet`` / ``--verbose``; Python callers use :func:`set_verbosity`.

Every line goes through :mod:`logging` (the ``neurodelay`` logger; library modules log to loggers
below it): stage and epoch lines (``info``, level INFO) and ``--verbose`` details (``detail``, DEBUG)
to stdout, notes (``note``) and warnings to stderr, each as the bare message (warnings prefixed
``neurodelay: warning:``). The verbosity sets the logger's level. The handlers write to whatever
``sys.stdout`` / ``sys.stderr`` is at the time, so callers that replace the streams see the lines.

Progress bars redraw a line with carriage returns; written to a file or a pipe every redraw
becomes text, so :func:`progress_bars` is true only when stdout and the bar's stream (stderr) are
terminals and the level is not quiet. Without bars, the trainer reports by lines (one per epoch).
"""

from __future__ import annotations

import logging
import sys
from typing import TextIO

QUIET, NORMAL, VERBOSE = 0, 1, 2
_LEVELS = {QUIET: logging.WARNING, NORMAL: logging.INFO, VERBOSE: logging.DEBUG}
_verbosity = NORMAL
_TO_STDERR = "neurodelay_note"
logger = logging.getLogger("neurodelay")


class _CurrentStream(logging.StreamHandler):
    """Writes to ``sys.<name>`` as it is when a record arrives."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self._name = name

    @property
    def stream(self) -> TextIO:  # type: ignore[override]
        return getattr(sys, self._name)

    @stream.setter
    def stream(self, value: TextIO) -> None:
        pass


def _to_stderr(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or getattr(record, _TO_STDERR, False)


def _install_handlers() -> None:
    out, err = _CurrentStream("stdout"), _CurrentStream("stderr")
    out.addFilter(lambda record: not _to_stderr(record))
    err.addFilter(_to_stderr)
    out.setFormatter(logging.Formatter("%(message)s"))
    err.setFormatter(_StderrFormatter())
    logger.handlers = [out, err]
    logger.propagate = False  # one copy of each line, whatever the root logger is configured to do
    logger.setLevel(_LEVELS[_verbosity])


class _StderrFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        return message if record.levelno < logging.WARNING else f"neurodelay: {record.levelname.lower()}: {message}"


def set_verbosity(level: int) -> None:
    """Choose ``QUIET``, ``NORMAL`` or ``VERBOSE`` for the whole process."""
    global _verbosity
    if level not in (QUIET, NORMAL, VERBOSE):
        raise ValueError(f"verbosity {level!r}: allowed QUIET (0), NORMAL (1), VERBOSE (2)")
    _verbosity = level
    logger.setLevel(_LEVELS[level])


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
    logger.info(message)


def detail(message: str) -> None:
    """A line for ``--verbose`` only (stdout)."""
    logger.debug(message)


def note(message: str) -> None:
    """A side remark about the data or a lossy step (stderr), shown unless quiet."""
    logger.info(message, extra={_TO_STDERR: True})


_install_handlers()
