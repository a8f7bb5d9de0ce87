"""The SHD and SSC tasks (Cramer et al. 2020): published HDF5 files -> binned splits.

Files are looked up in ``root``: ``<prefix>_train.h5`` and ``<prefix>_test.h5`` (SSC also
``ssc_valid.h5``), each plain or gzipped (``.h5.gz``; the plain file wins when both exist).
Events are binned to the run's ``dt_ms`` by :mod:`neurodelay.data.events` (at most one spike per
channel and step; events at or after ``max_duration_ms`` dropped; both counted and reported).

Validation split (never taken from the test set):

* ``none``: no validation split (the paper monitors training accuracy on SHD);
* ``speakers``: every training sample of the speakers in ``validation_speakers`` is held out
  (speaker-wise hold-out; the remaining speakers train);
* ``random``: a seeded random ``validation_fraction`` of the training file is held out;
* ``file`` (SSC only, its default): the published ``ssc_valid.h5``.

Binned splits go to a :class:`~neurodelay.data.cache.BinnedCache` keyed by the files' SHA-256
and every parameter above, and are opened memory-mapped, so a split larger than memory streams
from disk batch by batch (SHD at 1 ms: 8156 x 1000 x 700 bools = 5.7 GB). With ``cache: false``
the splits are built in memory, refused beyond ``max_memory_gib``.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .. import console
from ..errors import ValidationError
from .augment import AugmentationSpec
from .cache import BinnedCache, cache_key, default_cache_root, file_digest
from .dataset import Dataset, DataSplits
from .events import BinningReport, bin_samples, steps_for_duration
from .spike_files import SpikeFile

LOADER_VERSION = 1
N_CHANNELS = 700
CHUNK_SAMPLES = 256

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SpeechParameters:
    """Config section ``data`` of the ``shd`` and ``ssc`` tasks (times in ms).

    root: folder with the published files; ``$VARIABLES`` and ``~`` are expanded, so a recipe can
    say ``${NEURODELAY_DATA}/shd``.
    """

    root: str
    max_duration_ms: float = 1000.0
    validation: Literal["none", "speakers", "random", "file"] | None = None
    validation_speakers: list[int] = field(default_factory=list)
    validation_fraction: float = 0.1
    validation_seed: int = 0
    cache: bool = True
    cache_dir: str | None = None
    max_memory_gib: float = 4.0
    augmentation: AugmentationSpec | None = None

    PREFIX = "shd"
    N_CLASSES = 20
    DEFAULT_VALIDATION = "none"

    def check(self, path: str) -> None:
        if not (math.isfinite(self.max_duration_ms) and self.max_duration_ms > 0):
            raise ValidationError(f"{path}.max_duration_ms", f"got {self.max_duration_ms}", "> 0 ms")
        kind = self.validation_kind
        if kind == "file" and self.PREFIX != "ssc":
            raise ValidationError(
                f"{path}.validation",
                f"'file' but {self.PREFIX.upper()} publishes no validation file",
                "none, speakers or random (held out from train)",
            )
        if kind == "speakers" and not self.validation_speakers:
            raise ValidationError(f"{path}.validation_speakers", "empty", "the speaker ids to hold out from train")
        if kind != "speakers" and self.validation_speakers:
            raise ValidationError(
                f"{path}.validation_speakers", f"given, but validation is {kind!r}", "only with validation: speakers"
            )
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValidationError(f"{path}.validation_fraction", f"got {self.validation_fraction}", "(0, 1)")
        if self.max_memory_gib <= 0:
            raise ValidationError(f"{path}.max_memory_gib", f"got {self.max_memory_gib}", "> 0 GiB")

    @property
    def validation_kind(self) -> str:
        return self.validation or self.DEFAULT_VALIDATION

    def root_path(self) -> Path:
        return Path(os.path.expandvars(self.root)).expanduser()


@dataclass(frozen=True)
class SHDParameters(SpeechParameters):
    """Spiking Heidelberg Digits: 20 classes, 8156 train / 2264 test samples, no validation file."""


@dataclass(frozen=True)
class SSCParameters(SpeechParameters):
    """Spiking Speech Commands: 35 classes, train / valid / test files."""

    PREFIX = "ssc"
    N_CLASSES = 35
    DEFAULT_VALIDATION = "file"


def split_file(root: Path, prefix: str, split: str) -> Path:
    """``root/<prefix>_<split>.h5`` or, failing that, ``.h5.gz``."""
    for name in (f"{prefix}_{split}.h5", f"{prefix}_{split}.h5.gz"):
        if (root / name).is_file():
            return root / name
    raise ValidationError(
        "data.root",
        f"{root} holds neither {prefix}_{split}.h5 nor {prefix}_{split}.h5.gz",
        f"a folder with the published {prefix.upper()} files",
        file=root,
    )


def holdout(parameters: SpeechParameters, source: SpikeFile) -> dict[str, np.ndarray]:
    """Rows of the training file that form ``train`` and (when held out) ``validation``."""
    everything = np.arange(source.size)
    kind = parameters.validation_kind
    if kind == "speakers":
        if source.speakers is None:
            raise ValidationError(
                "extra/speaker",
                "missing; needed for validation: speakers",
                "a 1-D integer array of speaker ids",
                file=source.path,
            )
        present = np.unique(source.speakers)
        absent = sorted(set(parameters.validation_speakers) - set(present.tolist()))
        if absent:
            raise ValidationError(
                "data.validation_speakers",
                f"speakers {absent} have no training sample",
                f"ids present in {source.path.name}: {present.tolist()}",
            )
        chosen = np.isin(source.speakers, parameters.validation_speakers)
        if chosen.all():
            raise ValidationError(
                "data.validation_speakers", "would hold out every training sample", "a proper subset of the speakers"
            )
        return {"train": everything[~chosen], "validation": everything[chosen]}
    if kind == "random":
        order = np.random.default_rng(parameters.validation_seed).permutation(source.size)
        count = max(1, int(round(parameters.validation_fraction * source.size)))
        if count >= source.size:
            raise ValidationError(
                "data.validation_fraction",
                f"leaves no training sample of {source.size}",
                "a fraction that keeps at least one training sample",
            )
        return {"train": np.sort(order[count:]), "validation": np.sort(order[:count])}
    return {"train": everything}


def _describe_validation(parameters: SpeechParameters) -> str:
    kind = parameters.validation_kind
    if kind == "speakers":
        return f"speaker-wise hold-out from train: speakers {sorted(parameters.validation_speakers)}"
    if kind == "random":
        return (
            f"random hold-out from train: fraction {parameters.validation_fraction}, seed {parameters.validation_seed}"
        )
    return {"file": "the published validation file", "none": "no validation split"}[kind]


def load_speech(parameters: SpeechParameters, dt_ms: float) -> DataSplits:
    """The binned splits of SHD or SSC (see the module docstring)."""
    prefix = parameters.PREFIX
    root = parameters.root_path()
    if not root.is_dir():
        raise ValidationError("data.root", f"{root} is not a folder", f"the folder holding the {prefix.upper()} files")
    steps = steps_for_duration(parameters.max_duration_ms, dt_ms)
    files = {"train": split_file(root, prefix, "train"), "test": split_file(root, prefix, "test")}
    if parameters.validation_kind == "file":
        files["validation"] = split_file(root, prefix, "valid")
    description = {
        "loader": f"neurodelay.data.shd/{prefix}",
        "version": LOADER_VERSION,
        "files": {split: file_digest(path) for split, path in files.items()},
        "dt_ms": dt_ms,
        "max_duration_ms": parameters.max_duration_ms,
        "n_channels": N_CHANNELS,
        "n_classes": parameters.N_CLASSES,
        "validation": parameters.validation_kind,
        "validation_speakers": sorted(parameters.validation_speakers),
        "validation_fraction": parameters.validation_fraction,
        "validation_seed": parameters.validation_seed,
    }
    cache = BinnedCache(parameters.cache_dir or default_cache_root()) if parameters.cache else None
    key = cache_key(description)
    found = cache.load(key) if cache is not None else None
    if found is None:
        found = _build(parameters, files, steps, dt_ms, cache, key, description)
    arrays, manifest = found
    shared = {
        "dt_ms": dt_ms,
        "max_duration_ms": parameters.max_duration_ms,
        "steps": steps,
        "binning": "step floor(t / dt_ms), at most one spike per channel and step",
        "validation_split": _describe_validation(parameters),
        "cache_entry": None if cache is None else str(cache.entry(key)),
    }
    datasets = {}
    for split in manifest["splits"]:
        metadata = dict(
            shared,
            source=manifest["sources"][split],
            sha256=manifest["digests"][split],
            binning_report=manifest["reports"][split],
        )
        datasets[split] = Dataset(
            f"{prefix}/{split}",
            arrays[f"{split}.inputs"],
            arrays[f"{split}.labels"],
            dt_ms,
            parameters.N_CLASSES,
            metadata,
        )
    return DataSplits(train=datasets["train"], test=datasets["test"], validation=datasets.get("validation"))


def _build(
    parameters: SpeechParameters,
    files: dict[str, Path],
    steps: int,
    dt_ms: float,
    cache: BinnedCache | None,
    key: str,
    description: dict[str, Any],
):
    """Bin every split (streaming the files in chunks) into the cache or into memory."""
    writer = cache.writer(key) if cache is not None else None
    scratch = writer.staging if writer is not None else None
    arrays: dict[str, np.ndarray] = {}
    manifest: dict[str, Any] = {"description": description, "splits": [], "sources": {}, "digests": {}, "reports": {}}
    try:
        for file_split, path in files.items():
            with SpikeFile(path, n_channels=N_CHANNELS, n_classes=parameters.N_CLASSES, scratch_dir=scratch) as source:
                rows = holdout(parameters, source) if file_split == "train" else {file_split: np.arange(source.size)}
                outputs = {}
                for split, indices in rows.items():
                    shape = (len(indices), steps, N_CHANNELS)
                    if writer is not None:
                        _check_disk(parameters, shape, writer.staging, path)
                        outputs[split] = writer.open_inputs(f"{split}.inputs", shape)
                    else:
                        _check_memory(parameters, shape, arrays)
                        outputs[split] = np.zeros(shape, dtype=bool)
                reports = _bin_file(source, rows, outputs, dt_ms)
                for split, indices in rows.items():
                    labels = source.labels[indices]
                    manifest["splits"].append(split)
                    manifest["sources"][split] = str(path)
                    manifest["digests"][split] = description["files"][file_split]
                    manifest["reports"][split] = reports[split].as_dict()
                    console.note(
                        f"{parameters.PREFIX}/{split}: {len(indices)} samples from {path.name}, "
                        f"{steps} steps of {dt_ms} ms: {reports[split].summary()}"
                    )
                    if writer is not None:
                        writer.save(f"{split}.labels", labels)
                    arrays[f"{split}.inputs"], arrays[f"{split}.labels"] = outputs[split], labels
        if writer is None:
            return arrays, manifest
        writer.publish(manifest)
    except BaseException:
        if writer is not None:
            writer.discard()
        raise
    return cache.load(key)


def _bin_file(
    source: SpikeFile, rows: dict[str, np.ndarray], outputs: dict[str, np.ndarray], dt_ms: float
) -> dict[str, BinningReport]:
    """Stream ``source`` in chunks; sample ``rows[split][r]`` of the file goes to ``outputs[split][r]``."""
    destination = np.empty((source.size, 2), dtype=np.int64)
    names = list(rows)
    for position, split in enumerate(names):
        destination[rows[split], 0] = position
        destination[rows[split], 1] = np.arange(len(rows[split]))
    reports = {split: BinningReport() for split in names}
    for start in range(0, source.size, CHUNK_SAMPLES):
        samples = source.events(start, min(start + CHUNK_SAMPLES, source.size))
        for offset, sample in enumerate(samples):
            position, row = destination[start + offset]
            split = names[position]
            reports[split].add(bin_samples([sample], outputs[split][row : row + 1], dt_ms))
    return reports


def _check_memory(parameters: SpeechParameters, shape: tuple[int, ...], arrays: dict[str, np.ndarray]) -> None:
    total = int(np.prod(shape)) + sum(array.nbytes for array in arrays.values())
    if total > parameters.max_memory_gib * 2**30:
        raise ValidationError(
            "data.cache",
            f"false, but the binned splits need {total / 2**30:.1f} GiB of memory",
            f"cache: true (streams from disk) or max_memory_gib >= {total / 2**30:.1f}",
        )


def _check_disk(parameters: SpeechParameters, shape: tuple[int, ...], folder: Path, source: Path) -> None:
    """Refuse a binned split that the cache folder's free space cannot hold (one byte per value)."""
    need = float(np.prod(shape, dtype=np.float64))
    free = shutil.disk_usage(folder).free
    if need > free:
        raise ValidationError(
            "labels",
            f"{shape[0]} samples x {shape[1]} steps x {shape[2]} channels need {need / 2**30:.1f} GiB in the cache, "
            f"{free / 2**30:.1f} GiB are free in {folder.parent}",
            "fewer samples, a larger dt_ms or shorter max_duration_ms, or data.cache_dir on a larger disk",
            file=source,
        )


def load_shd(parameters: SHDParameters, dt_ms: float) -> DataSplits:
    return load_speech(parameters, dt_ms)


def load_ssc(parameters: SSCParameters, dt_ms: float) -> DataSplits:
    return load_speech(parameters, dt_ms)
