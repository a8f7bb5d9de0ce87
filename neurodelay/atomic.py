"""Atomic file output: write a temporary file in the target's folder, then rename it over the target.

A reader never sees a half-written file; a failed write leaves the previous file intact and no
temporary file behind; the result gets the permissions a plain ``open`` would give (0666 less the
umask), not the 0600 of ``mkstemp``. Every file neurodelay writes (networks, checkpoints, exports,
reports, plots) goes through :func:`atomic_path`.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


@contextmanager
def atomic_path(path: str | Path, *, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on normal exit it replaces ``path``, on error it is removed.

    ``suffix`` matters to writers that pick a format from the name (matplotlib: ``".png"``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(handle)
    try:
        yield Path(temporary)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_with(path: str | Path, write: Callable[[Any], None], *, mode: str = "wb") -> Path:
    """Open a temporary file with ``mode``, let ``write(stream)`` fill it, flush it to disk (fsync), then
    rename it onto ``path``: after a crash the file is either the old one or the complete new one."""
    with atomic_path(path) as temporary:
        with open(temporary, mode) as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
    return Path(path)


def write_bytes(path: str | Path, data: bytes) -> Path:
    return write_with(path, lambda stream: stream.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_with(path, lambda stream: stream.write(text), mode="w")


def write_json(path: str | Path, value: Any, *, indent: int = 2, default: Callable | None = None) -> Path:
    """``value`` as JSON (UTF-8, trailing newline)."""
    return write_text(path, json.dumps(value, indent=indent, default=default) + "\n")
