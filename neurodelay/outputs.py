"""Output paths checked before any work starts, and never overwritten silently.

Every command that writes a file or a folder calls :func:`check_output_file` or
:func:`check_output_folder` on it first, so that a mistake in a path costs a one-line error, not a
finished computation. The rule is the same everywhere: an existing output is refused unless the
command's ``--force`` is given; a directory where a file should go (or the reverse), a file in the
way of a folder to create, or a folder that cannot be written is always refused. A folder of
several files is built beside its destination and renamed into place (:func:`staged_folder`), so
a failure leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ValidationError


def nearest_existing(path: Path) -> Path:
    """``path`` or the closest of its ancestors that exists."""
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path(path.anchor or ".")


def check_creatable(path: Path, option: str) -> None:
    """The folders above ``path`` exist or can be made, and the deepest existing one is writable."""
    ancestor = nearest_existing(path.parent if path.parent != path else path)
    if not ancestor.is_dir():
        raise ValidationError(option, f"{path}: {ancestor} is a file, not a folder", "a path inside a folder")
    if not os.access(ancestor, os.W_OK | os.X_OK):
        raise ValidationError(option, f"{path}: the folder {ancestor} is not writable", "a writable folder")


def check_output_file(path: str | Path, *, option: str = "--out", force: bool = False) -> Path:
    """Check that a file can be written at ``path`` (for ``option``); returns it as a Path."""
    path = Path(path)
    if path.is_dir():
        raise ValidationError(option, f"{path} is a directory", "a file path")
    if path.exists() and not force:
        raise ValidationError(option, f"{path} already exists", "a new path, or --force to overwrite it")
    check_creatable(path, option)
    return path


def check_output_folder(path: str | Path, *, option: str = "--out", force: bool = False) -> Path:
    """Check that a folder can be written at ``path``: absent, empty, or (with ``force``) any folder."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise ValidationError(option, f"{path} is a file", "a folder path")
    if path.is_dir() and not force and any(path.iterdir()):
        raise ValidationError(
            option, f"{path} is a folder that is not empty", "a new or empty folder, or --force to write into it"
        )
    check_creatable(path, option)
    return path


@contextmanager
def staged_folder(path: str | Path) -> Iterator[Path]:
    """Yield a new temporary folder beside ``path`` to fill; on success it becomes ``path``, on any
    error it is removed. Where ``path`` already holds files (written into with ``--force``), the
    folder is filled in place instead, as a rename cannot merge folders."""
    path = Path(path)
    if path.is_dir() and any(path.iterdir()):
        yield path
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}."))
    try:
        yield staging
        staging.chmod(0o777 & ~_umask())
        if path.is_dir():
            path.rmdir()
        os.replace(staging, path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
