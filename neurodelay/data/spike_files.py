"""Reader of the published SHD / SSC HDF5 files (Cramer et al. 2020), plain or gzipped.

Layout (one file per split): ``spikes/times`` ragged (HDF5 vlen) float spike times in **seconds**
(float16 in the published files), ``spikes/units`` ragged integer channel indices of the same
lengths, ``labels`` one integer class per sample, optional ``extra/speaker`` one speaker id per
sample. Every structural problem raises :class:`~neurodelay.errors.ValidationError` naming the
file, the dataset path inside it (the field) and what is allowed.
"""

from __future__ import annotations

import gzip
import os
import shutil
import tempfile
from pathlib import Path
from types import TracebackType

import h5py
import numpy as np

from ..errors import ValidationError
from ..limits import check_memory

GZIP_MAGIC = b"\x1f\x8b"
TIMES, UNITS, LABELS, SPEAKERS = "spikes/times", "spikes/units", "labels", "extra/speaker"


def is_gzipped(path: Path) -> bool:
    with open(path, "rb") as stream:
        return stream.read(2) == GZIP_MAGIC


class SpikeFile:
    """One split file, opened as a context manager; a gzipped file is first decompressed into a
    temporary file in ``scratch_dir`` (removed on exit).

    After opening: ``labels`` int64 ``[n]``, ``speakers`` int64 ``[n]`` or None, ``size``.
    :meth:`events` reads samples ``[start, stop)`` as ``(times_ms float64, channels int64)`` pairs,
    checking each against the file's rules.
    """

    def __init__(
        self, path: str | Path, *, n_channels: int, n_classes: int, scratch_dir: str | Path | None = None
    ) -> None:
        self.path = Path(path)
        self.n_channels = n_channels
        self.n_classes = n_classes
        self.scratch_dir = scratch_dir
        self._temporary: Path | None = None
        self._file: h5py.File | None = None

    # ----- opening ------------------------------------------------------------------------
    def __enter__(self) -> "SpikeFile":
        if not self.path.is_file():
            raise ValidationError("(file)", "not found", "an SHD/SSC HDF5 file (.h5 or .h5.gz)", file=self.path)
        readable = self.path
        try:
            if is_gzipped(self.path):
                readable = self._decompress()
            self._file = h5py.File(readable, "r")
        except OSError as error:
            self._cleanup()
            raise ValidationError(
                "(file)", f"not a readable HDF5 file ({error})", "an HDF5 file, optionally gzipped", file=self.path
            ) from None
        except BaseException:
            self._cleanup()
            raise
        try:
            self._check_structure()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._cleanup()

    def _decompress(self) -> Path:
        handle, name = tempfile.mkstemp(suffix=".h5", prefix=".neurodelay-", dir=self.scratch_dir)
        self._temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as target, gzip.open(self.path, "rb") as source:
                shutil.copyfileobj(source, target, 1 << 22)
        except (OSError, EOFError) as error:
            raise ValidationError(
                "(file)", f"gzip stream is damaged ({error})", "a complete .h5.gz file", file=self.path
            ) from None
        return self._temporary

    def _cleanup(self) -> None:
        if self._temporary is not None:
            self._temporary.unlink(missing_ok=True)
            self._temporary = None

    # ----- structure ----------------------------------------------------------------------
    def _error(self, field: str, problem: str, allowed: str) -> ValidationError:
        return ValidationError(field, problem, allowed, file=self.path)

    def _dataset(self, name: str) -> h5py.Dataset:
        item = self._file.get(name)
        if not isinstance(item, h5py.Dataset):
            found = "missing" if item is None else f"a {type(item).__name__}, not a dataset"
            raise self._error(name, found, "a dataset (published SHD/SSC layout: spikes/times, spikes/units, labels)")
        return item

    def _check_ragged(self, name: str, kinds: str, allowed: str) -> h5py.Dataset:
        dataset = self._dataset(name)
        base = h5py.check_vlen_dtype(dataset.dtype)
        if dataset.ndim != 1 or base is None or base.kind not in kinds:
            raise self._error(
                name,
                f"dtype {base if base is not None else dataset.dtype} of shape "
                f"{list(dataset.shape)}{'' if base is not None else ' (not ragged/vlen)'}",
                allowed,
            )
        return dataset

    def _check_structure(self) -> None:
        self._times = self._check_ragged(TIMES, "f", "a 1-D ragged (vlen) array of float spike times in seconds")
        self._units = self._check_ragged(UNITS, "iu", "a 1-D ragged (vlen) array of integer channel indices")
        labels = self._dataset(LABELS)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise self._error(
                LABELS,
                f"dtype {labels.dtype} of shape {list(labels.shape)}",
                "a 1-D integer array, one class per sample",
            )
        sizes = {TIMES: self._times.shape[0], UNITS: self._units.shape[0], LABELS: labels.shape[0]}
        if len(set(sizes.values())) != 1:
            raise self._error(
                UNITS if sizes[UNITS] != sizes[TIMES] else LABELS,
                "sample counts disagree: " + ", ".join(f"{k} {v}" for k, v in sizes.items()),
                "the same number of samples in spikes/times, spikes/units and labels",
            )
        self.size = int(sizes[TIMES])
        # labels, speakers and the loader's row tables: about 64 bytes per declared sample
        check_memory(LABELS, 64.0 * self.size, f"the per-sample tables of {self.size} declared samples", file=self.path)
        self.labels = labels[()].astype(np.int64)
        if self.size and (self.labels.min() < 0 or self.labels.max() >= self.n_classes):
            raise self._error(
                LABELS,
                f"labels span [{self.labels.min()}, {self.labels.max()}]",
                f"[0, {self.n_classes - 1}] ({self.n_classes} classes)",
            )
        self.speakers = None
        if SPEAKERS in self._file:
            speakers = self._dataset(SPEAKERS)
            if speakers.shape != (self.size,) or speakers.dtype.kind not in "iu":
                raise self._error(
                    SPEAKERS,
                    f"dtype {speakers.dtype} of shape {list(speakers.shape)}",
                    f"a 1-D integer array of {self.size} speaker ids",
                )
            self.speakers = speakers[()].astype(np.int64)

    # ----- events -------------------------------------------------------------------------
    def events(self, start: int, stop: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Samples ``[start, stop)`` as ``(times_ms float64 [k], channels int64 [k])``; raises on
        ragged lengths that disagree, negative or non-finite times, and channels out of range."""
        times_chunk, units_chunk = self._times[start:stop], self._units[start:stop]
        samples = []
        for offset, (times_s, units) in enumerate(zip(times_chunk, units_chunk)):
            sample = start + offset
            if times_s.shape != units.shape:
                raise self._error(
                    f"{UNITS}[{sample}]",
                    f"{units.size} channel indices for {times_s.size} spike times in {TIMES}[{sample}]",
                    "one channel index per spike time",
                )
            times_ms = times_s.astype(np.float64) * 1000.0
            if times_ms.size and not (np.all(np.isfinite(times_ms)) and times_ms.min() >= 0.0):
                raise self._error(
                    f"{TIMES}[{sample}]", "contains negative, NaN or infinite times", "finite times >= 0 s"
                )
            if units.size and (units.min() < 0 or units.max() >= self.n_channels):
                raise self._error(
                    f"{UNITS}[{sample}]",
                    f"channels span [{units.min()}, {units.max()}]",
                    f"[0, {self.n_channels - 1}] ({self.n_channels} channels)",
                )
            samples.append((times_ms, units.astype(np.int64)))
        return samples
