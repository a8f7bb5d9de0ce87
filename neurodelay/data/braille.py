"""The Braille reading task (Müller-Cleve et al. 2022): published pickles -> binned splits.

Published layout (Zenodo record 7050094, ``data_braille_letters_th_<threshold>.pkl``): a pickled
pandas DataFrame with one row per recording, column ``letter`` (``"Space"``, ``"A"`` ... ``"Z"``:
27 classes, in that order) and column ``events``: per recording 12 taxels, each a pair of lists
``[ON spike times, OFF spike times]`` in **seconds**. Input channel of taxel ``k`` and polarity
``p`` (0 = ON, 1 = OFF): ``k + 12 p`` (24 channels), as in the paper's code.

**Security:** a pickle is a program; unpickling one runs whatever code it carries. The loader
therefore refuses unless the config says ``allow_pickle: true``, which you should only write for
a file from a source you trust. pandas is needed to unpickle a DataFrame and is optional: without
it the task reports how to install it.

Binning as for SHD (:mod:`neurodelay.data.events`; the paper's Braille code rounds to the
nearest step instead). ``max_duration_ms`` defaults to the latest event of the file, so nothing
is dropped. Splits: stratified per letter, seeded, ``train_fraction`` / ``validation_fraction``
/ the rest for test (the paper: 70 / 10 / 20).
"""

from __future__ import annotations

import logging
import math
import os
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import console
from ..errors import NeurodelayError, ValidationError
from .dataset import Dataset, DataSplits
from .events import BinningReport, bin_samples, steps_for_duration

LETTERS = ("Space",) + tuple(chr(code) for code in range(ord("A"), ord("Z") + 1))
N_TAXELS = 12
N_CHANNELS = 2 * N_TAXELS

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BrailleParameters:
    """Config section ``data`` of the ``braille`` task (times in ms; see the module docstring)."""

    file: str
    allow_pickle: bool = False
    max_duration_ms: float | None = None
    train_fraction: float = 0.7
    validation_fraction: float = 0.1
    split_seed: int = 0

    def check(self, path: str) -> None:
        if self.max_duration_ms is not None and not (math.isfinite(self.max_duration_ms) and self.max_duration_ms > 0):
            raise ValidationError(f"{path}.max_duration_ms", f"got {self.max_duration_ms}", "> 0 ms, or null")
        if not (
            0 < self.train_fraction < 1
            and 0 <= self.validation_fraction < 1
            and self.train_fraction + self.validation_fraction < 1
        ):
            raise ValidationError(
                f"{path}.validation_fraction",
                f"train {self.train_fraction} + validation {self.validation_fraction}",
                "fractions in (0, 1) that leave some samples for the test split",
            )

    def file_path(self) -> Path:
        return Path(os.path.expandvars(self.file)).expanduser()


def read_braille_pickle(path: Path) -> tuple[list[tuple[np.ndarray, np.ndarray]], np.ndarray]:
    """``(samples, labels)``: per recording ``(times_ms float64, channels int64)``, labels int64
    indices into :data:`LETTERS`. Unpickles ``path``: call only for a trusted file."""
    try:
        import pandas  # noqa: F401  (the pickled DataFrame needs it to unpickle)
    except ImportError:
        raise NeurodelayError(
            "the braille task needs pandas to read the published pickles: pip install pandas"
        ) from None
    try:
        with open(path, "rb") as stream:
            table = pickle.load(stream)
    except FileNotFoundError:
        raise ValidationError("data.file", f"{path} not found", "the published Braille pickle", file=path) from None
    except OSError as error:  # a directory, no permission, ...
        raise ValidationError(
            "data.file", f"{path} cannot be read ({error.strerror})", "the published Braille pickle (a file)", file=path
        ) from None
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        raise ValidationError(
            "(file)",
            f"not a readable pickle ({type(error).__name__}: {error})",
            "a pickled pandas DataFrame",
            file=path,
        ) from None
    letters, events = _columns(table, path)
    if len(letters) != len(events):
        raise ValidationError(
            "events", f"{len(events)} recordings for {len(letters)} letters", "one events entry per letter", file=path
        )
    labels = np.empty(len(letters), np.int64)
    samples = []
    for row, (letter, recording) in enumerate(zip(letters, events)):
        if letter not in LETTERS:
            raise ValidationError(f"letter[{row}]", f"got {letter!r}", "'Space' or a capital letter A-Z", file=path)
        labels[row] = LETTERS.index(letter)
        samples.append(_recording(recording, row, path))
    return samples, labels


def _columns(table: Any, path: Path) -> tuple[list, list]:
    try:
        letters, events = table["letter"], table["events"]
    except (KeyError, TypeError, IndexError):
        columns = list(getattr(table, "columns", [])) or type(table).__name__
        raise ValidationError(
            "(columns)",
            f"no 'letter' and 'events' columns (found {columns})",
            "a DataFrame with columns letter and events",
            file=path,
        ) from None
    return list(letters), list(events)


def _recording(recording: Any, row: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not isinstance(recording, (list, tuple)) or len(recording) != N_TAXELS:
        raise ValidationError(f"events[{row}]", f"{_length(recording)} taxels", f"{N_TAXELS} taxels", file=path)
    times, channels = [], []
    for taxel, polarities in enumerate(recording):
        if not isinstance(polarities, (list, tuple)) or len(polarities) != 2:
            raise ValidationError(
                f"events[{row}][{taxel}]",
                f"{_length(polarities)} polarity lists",
                "2 lists: ON spike times, OFF spike times (s)",
                file=path,
            )
        for polarity, spike_times in enumerate(polarities):
            values = np.asarray(spike_times if spike_times is not None else [], dtype=object).ravel()
            try:
                values = values.astype(np.float64)
            except (TypeError, ValueError):
                raise ValidationError(
                    f"events[{row}][{taxel}][{polarity}]", "not a list of numbers", "spike times in s", file=path
                ) from None
            if values.size and not (np.all(np.isfinite(values)) and values.min() >= 0):
                raise ValidationError(
                    f"events[{row}][{taxel}][{polarity}]",
                    "negative, NaN or infinite times",
                    "finite spike times >= 0 s",
                    file=path,
                )
            times.append(values * 1000.0)
            channels.append(np.full(values.size, taxel + N_TAXELS * polarity, np.int64))
    return np.concatenate(times), np.concatenate(channels)


def _length(value: Any) -> str:
    return str(len(value)) if hasattr(value, "__len__") else f"not a list ({type(value).__name__})"


def stratified_split(
    labels: np.ndarray, train_fraction: float, validation_fraction: float, seed: int
) -> dict[str, np.ndarray]:
    """Sorted row indices of train / validation / test, the fractions taken within every class."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "validation": [], "test": []}
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        n_train = int(round(train_fraction * members.size))
        n_validation = int(round(validation_fraction * members.size))
        parts["train"].append(members[:n_train])
        parts["validation"].append(members[n_train : n_train + n_validation])
        parts["test"].append(members[n_train + n_validation :])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def load_braille(parameters: BrailleParameters, dt_ms: float) -> DataSplits:
    """The binned, stratified splits of the Braille pickle (see the module docstring)."""
    path = parameters.file_path()
    if not parameters.allow_pickle:
        raise ValidationError(
            "data.allow_pickle",
            "false: the Braille files are Python pickles, and loading one runs code stored in it",
            f"true, only if you trust {path}",
        )
    samples, labels = read_braille_pickle(path)
    if not samples:
        raise ValidationError("events", "no recordings", "at least one recording", file=path)
    latest_ms = max((float(times.max()) for times, _ in samples if times.size), default=0.0)
    duration_ms = parameters.max_duration_ms or (math.floor(latest_ms / dt_ms) + 1) * dt_ms
    steps = steps_for_duration(duration_ms, dt_ms)
    splits = stratified_split(labels, parameters.train_fraction, parameters.validation_fraction, parameters.split_seed)
    datasets = {}
    for split, rows in splits.items():
        if split == "validation" and rows.size == 0:
            continue
        inputs = np.zeros((rows.size, steps, N_CHANNELS), dtype=bool)
        report: BinningReport = bin_samples([samples[row] for row in rows], inputs, dt_ms)
        console.note(
            f"braille/{split}: {rows.size} recordings from {path.name}, {steps} steps of {dt_ms} ms: {report.summary()}"
        )
        metadata = {
            "source": str(path),
            "dt_ms": dt_ms,
            "max_duration_ms": duration_ms,
            "steps": steps,
            "channels": "taxel + 12 * polarity (0 ON, 1 OFF)",
            "split": f"stratified per letter, seed {parameters.split_seed}, train "
            f"{parameters.train_fraction} / validation {parameters.validation_fraction} / test rest",
            "binning_report": report.as_dict(),
        }
        datasets[split] = Dataset(f"braille/{split}", inputs, labels[rows], dt_ms, len(LETTERS), metadata)
    return DataSplits(train=datasets["train"], test=datasets["test"], validation=datasets.get("validation"))
