"""Task ``tonic``: a dataset class of the ``tonic`` package (optional extra ``tonic``) as splits.

A tonic dataset yields ``(events, target)`` with ``events`` a structured array: field ``t`` (time,
microseconds in tonic's datasets) and the sensor coordinates among ``x``, ``y``, ``p`` for a
``sensor_size`` of ``(X, Y, P)``. Each event's channel is its flat index
``x + X * (y + Y * p)`` (a missing coordinate, or one of an axis of extent 1, counts as 0:
tonic's SHD gives every event ``p = 1`` with ``sensor_size (700, 1, 1)``); events are binned to the network's ``dt_ms``
by the SHD loader's rule (:mod:`neurodelay.data.events`: at most one spike per channel and step,
merged and late events counted and reported).
"""

from __future__ import annotations

import importlib
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from ..errors import NeurodelayError, ValidationError
from ..ir.validate import MAX_POPULATION_SIZE
from .arrays import ArrayParameters, RawSplit, assemble, check_labels, sample_label
from .dataset import DataSplits

MS_PER_UNIT = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclass(frozen=True)
class TonicParameters:
    """Config section ``data`` of the task ``tonic``.

    dataset: a class of ``tonic.datasets`` (``SHD``, ``NMNIST``, ...) or ``module:Class`` of any
        class taking ``save_to`` and ``train`` with the same item and ``sensor_size`` shape.
    root: the folder given as ``save_to`` (``$VARIABLES`` and ``~`` expanded); files must be there
        (nothing is downloaded here).
    options: further keyword arguments of the class.
    time_unit: the unit of the events' ``t`` field (tonic's datasets: ``us``).
    """

    dataset: str
    root: str
    options: dict[str, Any] = field(default_factory=dict)
    time_unit: Literal["us", "ms", "s"] = "us"
    max_duration_ms: float | None = None
    n_classes: int | None = None

    def check(self, path: str) -> None:
        if self.max_duration_ms is not None and not (math.isfinite(self.max_duration_ms) and self.max_duration_ms > 0):
            raise ValidationError(f"{path}.max_duration_ms", f"got {self.max_duration_ms}", "a finite number > 0 ms")
        if self.n_classes is not None and not 1 <= self.n_classes <= MAX_POPULATION_SIZE:
            raise ValidationError(f"{path}.n_classes", f"got {self.n_classes}", f"[1, {MAX_POPULATION_SIZE}]")
        if "save_to" in self.options or "train" in self.options:
            raise ValidationError(
                f"{path}.options",
                "sets save_to or train",
                "other keyword arguments (root and the split are set by neurodelay)",
            )


def dataset_class(name: str) -> type:
    """The class named by ``data.dataset``."""
    module_name, _, class_name = name.rpartition(":") if ":" in name else ("tonic.datasets", "", name)
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise NeurodelayError(
            f"data.dataset {name!r}: cannot import {module_name} ({error}); install the "
            "'tonic' extra (pip install 'neurodelay[tonic]')"
        ) from None
    found = getattr(module, class_name, None)
    if not isinstance(found, type):
        raise ValidationError(
            "data.dataset", f"{module_name} has no class {class_name!r}", "a tonic.datasets class name or module:Class"
        )
    return found


def events_to_rows(events: Any, sensor_size: tuple[int, ...], index: int, time_unit: str) -> tuple[np.ndarray, ...]:
    """``(times_ms, channels)`` of one tonic sample, checked."""
    where = f"data.dataset[{index}].events"
    names = getattr(getattr(events, "dtype", None), "names", None)
    if names is None or "t" not in names or np.ndim(events) != 1:
        raise ValidationError(where, f"got {type(events).__name__}", "a 1-D structured array with a field t")
    size = tuple(int(extent) for extent in sensor_size) + (1,) * (3 - len(sensor_size))
    coordinates = []
    for axis, (name, extent) in enumerate(zip("xyp", size)):
        if name not in names or extent == 1:  # an axis of extent 1 has one channel (tonic's SHD writes p = 1)
            coordinates.append(np.zeros(len(events), np.int64))
            continue
        values = _whole_numbers(events[name], f"{where}.{name}")
        if values.size and (values.min() < 0 or values.max() >= extent):
            raise ValidationError(
                f"{where}.{name}",
                f"spans [{values.min()}, {values.max()}]",
                f"[0, {extent - 1}] (sensor_size {list(size)})",
            )
        coordinates.append(values)
    if events.dtype["t"].kind not in "iuf":
        raise ValidationError(f"{where}.t", f"dtype {events.dtype['t']}", f"numbers (times in {time_unit})")
    times = np.asarray(events["t"], np.float64)
    if times.size and not (np.all(np.isfinite(times)) and times.min() >= 0):
        raise ValidationError(f"{where}.t", "negative, NaN or infinite times", f"finite times >= 0 {time_unit}")
    channels = coordinates[0] + size[0] * (coordinates[1] + size[1] * coordinates[2])
    return times * MS_PER_UNIT[time_unit], channels


def _whole_numbers(values: Any, field: str) -> np.ndarray:
    """int64 coordinates: integers, or floats that are whole numbers (never truncated)."""
    values = np.asarray(values)
    if values.dtype.kind in "iu":
        return values.astype(np.int64)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.floor(values)):
        return values.astype(np.int64)
    raise ValidationError(field, f"dtype {values.dtype} with values that are not whole numbers", "integer coordinates")


def checked_sensor_size(source: Any, name: str) -> tuple[int, ...]:
    """The dataset's ``sensor_size``: 1 to 3 whole extents >= 1 (x, y, p)."""
    sensor_size = getattr(source, "sensor_size", None)
    try:
        extents = tuple(sensor_size)
    except TypeError:
        extents = ()
    if not 1 <= len(extents) <= 3 or not all(
        isinstance(extent, (int, np.integer)) and not isinstance(extent, bool) and extent >= 1 for extent in extents
    ):
        raise ValidationError(
            "data.dataset", f"{name}'s sensor_size is {sensor_size!r}", "1 to 3 integer extents >= 1 (x, y, p)"
        )
    return tuple(int(extent) for extent in extents)


def _item(source: Any, index: int, name: str) -> tuple[Any, Any]:
    """Item ``index`` of a dataset object as ``(events, target)``; its own failure named."""
    try:
        item = source[index]
    except Exception as error:  # the dataset class is the user's code: any failure is a data error
        raise ValidationError(
            f"data.dataset[{index}]",
            f"{name}[{index}] failed: {type(error).__name__}: {error}",
            "an (events, target) item",
        ) from None
    if not isinstance(item, (tuple, list)) or len(item) != 2:
        raise ValidationError(f"data.dataset[{index}]", f"got {type(item).__name__}", "an (events, target) pair")
    return item[0], item[1]


def load_tonic(parameters: TonicParameters, dt_ms: float) -> DataSplits:
    """The train and test splits of a tonic dataset class (``train=True`` / ``False``)."""
    cls = dataset_class(parameters.dataset)
    root = Path(os.path.expandvars(parameters.root)).expanduser()
    raw: dict[str, RawSplit] = {}
    n_channels = None
    for split, train in (("train", True), ("test", False)):
        call = f"{parameters.dataset}(save_to={str(root)!r}, train={train})"
        try:
            source = cls(save_to=str(root), train=train, **parameters.options)
            count = len(source)
        except (OSError, RuntimeError, ValueError, KeyError) as error:  # tonic tries to download what is missing
            raise ValidationError(
                "data.root", f"{call} failed: {type(error).__name__}: {error}", "a folder holding the dataset's files"
            ) from None
        except Exception as error:  # the class's own code (data.options it does not take, a broken len)
            raise ValidationError(
                "data.dataset", f"{call} failed: {type(error).__name__}: {error}", "a tonic dataset class"
            ) from None
        if count < 1:
            raise ValidationError("data.dataset", f"{call} holds 0 samples", "at least 1 sample per split")
        sensor_size = checked_sensor_size(source, parameters.dataset)
        n_channels = int(np.prod(sensor_size))
        samples, times, channels, labels = [], [], [], []
        for index in range(count):
            events, target = _item(source, index, parameters.dataset)
            times_ms, channel = events_to_rows(events, sensor_size, index, parameters.time_unit)
            samples.append(np.full(times_ms.size, index, np.int64))
            times.append(times_ms)
            channels.append(channel)
            labels.append(sample_label(target, f"data.dataset[{index}].target"))
        labels_array = check_labels(np.array(labels, np.int64), len(labels), f"data.dataset ({split}).labels", None)
        rows = tuple(
            np.concatenate(part) if part else np.zeros(0, kind)
            for part, kind in ((samples, np.int64), (times, np.float64), (channels, np.int64))
        )
        raw[split] = RawSplit(
            split, f"{cls.__module__}.{cls.__name__}({root}, train={train})", labels_array, events=rows
        )
    arrays = ArrayParameters(
        train="",
        test="",
        max_duration_ms=parameters.max_duration_ms,
        n_channels=n_channels,
        n_classes=parameters.n_classes,
    )
    return assemble(raw, arrays, dt_ms, "tonic")
