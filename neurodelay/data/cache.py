"""A disk cache of binned spike rasters, keyed by the source files and the binning parameters.

An entry is a folder ``<root>/<key>/`` holding ``manifest.json`` and one ``.npy`` file per array
(``<split>.inputs.npy`` bool ``[n, steps, n_channels]``, ``<split>.labels.npy`` int64 ``[n]``, ...).
The key is the SHA-256 of a JSON document naming the loader, its version, the SHA-256 of every
source file's bytes and every parameter that changes the result (dt_ms, max_duration_ms, the
validation split, ...), so a changed file or parameter can never reuse a stale entry.

Entries are written into a private temporary folder next to the final one and published with
one ``os.replace``: a reader sees a complete entry or none. Inputs are opened memory-mapped
(``mmap_mode="r"``), so a split larger than memory streams from disk batch by batch.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import NeurodelayError

CACHE_ENVIRONMENT_VARIABLE = "NEURODELAY_CACHE"
MANIFEST = "manifest.json"


def default_cache_root() -> Path:
    """``$NEURODELAY_CACHE`` or ``~/.cache/neurodelay``, with ``binned/`` appended."""
    base = os.environ.get(CACHE_ENVIRONMENT_VARIABLE) or Path.home() / ".cache" / "neurodelay"
    return Path(base).expanduser() / "binned"


def file_digest(path: Path, chunk_bytes: int = 1 << 22) -> str:
    """SHA-256 (hex) of the bytes of ``path``."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for chunk in iter(lambda: stream.read(chunk_bytes), b""):
            digest.update(chunk)
    return digest.hexdigest()


def cache_key(description: dict[str, Any]) -> str:
    """The entry name for ``description`` (a JSON-serialisable dict of everything that matters)."""
    text = json.dumps(description, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


class BinnedCache:
    """The cache folder ``root`` (created on first write)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    def entry(self, key: str) -> Path:
        return self.root / key

    def load(self, key: str) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """``(arrays, manifest)`` of a complete entry, inputs memory-mapped; None when absent."""
        folder = self.entry(key)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            return None
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            arrays = {
                name: np.load(
                    folder / f"{name}.npy", mmap_mode="r" if name.endswith(".inputs") else None, allow_pickle=False
                )
                for name in manifest["arrays"]
            }
        except (OSError, ValueError, KeyError) as error:
            raise NeurodelayError(f"{folder}: damaged cache entry ({error}); delete the folder to rebuild it") from None
        return arrays, manifest

    def writer(self, key: str) -> "EntryWriter":
        """A writer for a new entry ``key`` (publish it with :meth:`EntryWriter.publish`)."""
        self.root.mkdir(parents=True, exist_ok=True)
        return EntryWriter(self.entry(key), Path(tempfile.mkdtemp(prefix=f".{key}.", dir=self.root)))


class EntryWriter:
    """Arrays of one entry, written into a temporary folder, then published atomically."""

    def __init__(self, final: Path, staging: Path) -> None:
        self.final = final
        self.staging = staging
        self.names: list[str] = []
        self._memmaps: list[np.memmap] = []

    def open_inputs(self, name: str, shape: tuple[int, ...]) -> np.memmap:
        """A writable bool memmap ``shape`` stored as ``<name>.npy`` (filled by the caller)."""
        self.names.append(name)
        memmap = np.lib.format.open_memmap(self.staging / f"{name}.npy", mode="w+", dtype=np.bool_, shape=shape)
        self._memmaps.append(memmap)
        return memmap

    def save(self, name: str, array: np.ndarray) -> None:
        self.names.append(name)
        np.save(self.staging / f"{name}.npy", np.asarray(array), allow_pickle=False)

    def publish(self, manifest: dict[str, Any]) -> Path:
        """Write the manifest and move the folder into place (an entry that appeared meanwhile wins)."""
        for memmap in self._memmaps:
            memmap.flush()
        self._memmaps.clear()
        document = dict(manifest, arrays=self.names)
        (self.staging / MANIFEST).write_text(json.dumps(document, indent=1, sort_keys=True), encoding="utf-8")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.staging, 0o777 & ~umask)  # mkdtemp makes 0700; a published entry gets the usual mode
        try:
            os.replace(self.staging, self.final)
        except OSError:
            if not (self.final / MANIFEST).is_file():
                self.discard()
                raise
            self.discard()  # another process published the same entry first; both are identical
        return self.final

    def discard(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
