"""Writers of small files in the data sets' published layouts, written from the format notes
(docs/anchors.md §A6) with h5py / pickle directly, independent of the loaders."""

from __future__ import annotations

import gzip
import pickle
import shutil
from pathlib import Path

import h5py
import numpy as np


def write_speech_file(
    path: Path,
    times_s: list,
    units: list,
    labels,
    speakers=None,
    *,
    gzipped: bool = False,
    times_dtype=np.float16,
    units_dtype=np.uint16,
    labels_dtype=np.uint16,
) -> Path:
    """An SHD/SSC-layout HDF5 file: spikes/times (vlen float16 s), spikes/units (vlen uint16),
    labels (uint16), extra/speaker; gzipped into ``path`` when ``gzipped``."""
    plain = path.with_suffix("") if gzipped else path
    with h5py.File(plain, "w") as handle:
        spikes = handle.create_group("spikes")
        times = spikes.create_dataset("times", (len(times_s),), dtype=h5py.vlen_dtype(times_dtype))
        channels = spikes.create_dataset("units", (len(units),), dtype=h5py.vlen_dtype(units_dtype))
        for index, (sample_times, sample_units) in enumerate(zip(times_s, units)):
            times[index] = np.asarray(sample_times, times_dtype)
            channels[index] = np.asarray(sample_units, units_dtype)
        handle.create_dataset("labels", data=np.asarray(labels, labels_dtype))
        extra = handle.create_group("extra")
        if speakers is not None:
            extra.create_dataset("speaker", data=np.asarray(speakers, np.uint16))
        extra.create_dataset("keys", data=np.array([b"zero", b"one"]))
    if gzipped:
        with open(plain, "rb") as source, gzip.open(path, "wb") as target:
            shutil.copyfileobj(source, target)
        plain.unlink()
    return path


def random_speech_split(
    rng: np.random.Generator,
    n_samples: int,
    n_classes: int,
    *,
    n_channels: int = 700,
    max_events: int = 60,
    duration_s: float = 1.2,
    n_speakers: int = 4,
):
    """Random samples: (times_s, units, labels, speakers), times partly past 1 s."""
    times_s, units = [], []
    for _ in range(n_samples):
        count = int(rng.integers(0, max_events))
        times_s.append(np.sort(rng.uniform(0.0, duration_s, count)).astype(np.float16))
        units.append(rng.integers(0, n_channels, count).astype(np.uint16))
    labels = np.arange(n_samples) % n_classes
    speakers = rng.integers(0, n_speakers, n_samples)
    return times_s, units, labels, speakers


def write_braille_pickle(path: Path, letters: list[str], events: list) -> Path:
    """The Braille reading layout: a pickled pandas DataFrame with columns ``letter`` and
    ``events`` (per sample: 12 taxels x [ON times, OFF times] in seconds)."""
    import pandas as pd

    frame = pd.DataFrame({"letter": letters, "events": events})
    with open(path, "wb") as stream:
        pickle.dump(frame, stream)
    return path
