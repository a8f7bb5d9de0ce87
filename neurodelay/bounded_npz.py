"""Reading ``.npz`` archives (inputs, recordings, calibration data) with bounds.

``np.load`` on an ``.npz`` accepts duplicate members (which copy is read is an accident) and
decompresses whatever size the headers declare. :func:`read_npz` opens the archive itself, refuses
duplicate members and object arrays, adds up the sizes the ``.npy`` headers declare and checks
them against the memory limit (:mod:`neurodelay.limits`) before any array data is read.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .errors import ValidationError
from .limits import check_memory, format_bytes


def read_npz(path: str | Path, *, field: str = "(file)") -> dict[str, np.ndarray]:
    """Every array of the ``.npz`` at ``path`` by name; one-line :class:`ValidationError` on ``field``
    of ``path`` for anything unreadable, duplicated, of object dtype or too large."""
    path = Path(path)
    allowed = "an .npz archive of numeric arrays, without pickled objects (numpy.savez)"
    if not path.is_file():
        raise ValidationError(field, "does not exist or is not a file", allowed, file=path)
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
            names = [info.filename for info in infos]
            if len(set(names)) != len(names):
                twice = next(name for i, name in enumerate(names) if name in names[:i])
                raise ValidationError(field, f"member {twice!r} appears more than once", "every member once", file=path)
            declared = 0
            for info in infos:
                with archive.open(info) as stream:
                    version = np.lib.format.read_magic(stream)
                    shape, _, dtype = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )(stream)
                if dtype.hasobject:
                    raise ValidationError(
                        f"{field}[{info.filename}]", "holds pickled Python objects", allowed, file=path
                    )
                declared += int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
            check_memory(field, 2 * declared, f"the arrays declared ({format_bytes(declared)})", file=path)
        with np.load(path, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except ValidationError:
        raise
    except Exception as error:  # zipfile, zlib and numpy raise many types on damaged archives
        raise ValidationError(
            field, f"cannot be read ({type(error).__name__}: {' '.join(str(error).split())[:160]})", allowed, file=path
        ) from None
