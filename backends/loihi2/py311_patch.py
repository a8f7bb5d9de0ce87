"""Make lava-nc 0.10.0 importable on Python 3.11 (standard library only; never imports lava).

lava-nc 0.10.0 declares ``python<3.11``. Its only 3.11 incompatibility that we know of is in
``lava/magma/compiler/var_model.py``: dataclass fields default to a mutable instance
(``x: ByteEncoder = ByteEncoder()``), which Python 3.11 rejects at import time with
``ValueError: mutable default ... use default_factory``. The fix rewrites those fields to
``field(default_factory=ByteEncoder)`` and imports ``field``.

The rewrite is a pure function of the file's text (:func:`patched_source`), checked before it is
written: it must change exactly the expected fields, and applying it twice changes nothing.
``python -m neurodelay.backends.loihi2.py311_patch --apply`` is run by the project's set-up.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from importlib import metadata
from pathlib import Path

TARGET_RELATIVE_PATH = "lava/magma/compiler/var_model.py"
_OLD_IMPORT = "from dataclasses import dataclass, InitVar\n"
_NEW_IMPORT = "from dataclasses import dataclass, InitVar, field\n"
_OLD_DEFAULT = ": ByteEncoder = ByteEncoder()"
_NEW_DEFAULT = ": ByteEncoder = field(default_factory=ByteEncoder)"
EXPECTED_FIELDS = 8


class LavaPatchError(RuntimeError):
    """The installed lava file does not look like the one this patch was written for."""


def patched_source(source: str) -> str:
    """Return ``source`` with the 3.11 fix applied; an already patched text comes back unchanged."""
    if _OLD_DEFAULT not in source:
        if source.count(_NEW_DEFAULT) == EXPECTED_FIELDS and _NEW_IMPORT in source:
            return source
        raise LavaPatchError(
            f"{TARGET_RELATIVE_PATH}: neither the original nor the patched "
            f"ByteEncoder fields were found; unknown lava-nc version"
        )
    found = source.count(_OLD_DEFAULT)
    if found != EXPECTED_FIELDS or source.count(_OLD_IMPORT) != 1:
        raise LavaPatchError(
            f"{TARGET_RELATIVE_PATH}: expected {EXPECTED_FIELDS} ByteEncoder "
            f"defaults and one dataclasses import, found {found}"
        )
    return source.replace(_OLD_IMPORT, _NEW_IMPORT).replace(_OLD_DEFAULT, _NEW_DEFAULT)


def installed_target() -> Path:
    """Path of lava-nc's ``var_model.py`` in the current environment, found without importing lava."""
    try:
        distribution = metadata.distribution("lava-nc")
    except metadata.PackageNotFoundError as error:
        raise LavaPatchError("lava-nc is not installed in this environment") from error
    return Path(str(distribution.locate_file(TARGET_RELATIVE_PATH)))


def apply(path: Path) -> bool:
    """Patch ``path`` in place (atomically); return True when the file changed."""
    source = path.read_text()
    fixed = patched_source(source)
    if fixed == source:
        return False
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".var_model.", suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        stream.write(fixed)
    os.replace(temporary, path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apply", action="store_true", help="patch the installed lava-nc")
    args = parser.parse_args(argv)
    target = installed_target()
    if args.apply:
        changed = apply(target)
        print(f"{target}: {'patched for Python 3.11' if changed else 'already patched'}")
    else:
        state = patched_source(target.read_text()) == target.read_text()
        print(f"{target}: {'patched' if state else 'not patched'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
