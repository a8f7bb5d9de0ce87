"""Your own spike data, from ``.npz`` files (task ``arrays``) or from Python samples.

One ``.npz`` per split (read with ``allow_pickle=False``), holding ``labels`` (integer
``[samples]``, each in ``[0, n_classes)``) and either

* ``spikes``: a dense raster ``[samples, steps, channels]`` on the network's timestep (bool, or
  integers / floats that are all 0 or 1); an optional scalar ``dt_ms`` must then equal the
  network's ``dt_ms``; or
* ``events``: one row per spike, ``(sample, time, channel)``: a numeric ``[n_events, 3]`` array or a
  structured array with fields ``sample``, ``time`` and ``channel``. Times are in ``time_unit``
  (``ms``, ``s``, ``us`` or ``steps``) and are binned like the SHD loader: step ``floor(t / dt)``,
  at most one spike per channel and step, events merged into an occupied bin and events at or after
  ``max_duration_ms`` counted (:mod:`neurodelay.data.events`) and reported.

Every problem raises a :class:`~neurodelay.errors.ValidationError` naming the file, the array and
what is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Literal

import numpy as np

from .. import console
from ..bounded_npz import read_npz
from ..errors import ValidationError
from ..ir.validate import MAX_POPULATION_SIZE
from ..limits import check_memory
from .dataset import Dataset, DataSplits
from .events import BinningReport, bin_samples, check_step_count, steps_for_duration

MS_PER_UNIT = {"ms": 1.0, "s": 1000.0, "us": 0.001}
EVENT_FIELDS = ("sample", "time", "channel")


@dataclass(frozen=True)
class ArrayParameters:
    """Config section ``data`` of the task ``arrays`` (paths relative to the working folder;
    ``~`` expanded).

    n_channels: input channels (events only; default 1 + the largest channel in any split).
    n_classes: classes (default 1 + the largest label in any split).
    max_duration_ms: events only: the raster covers ``[0, max_duration_ms)`` (default: up to the
        latest event of any split).
    """

    train: str
    test: str
    validation: str | None = None
    time_unit: Literal["ms", "s", "us", "steps"] = "ms"
    max_duration_ms: float | None = None
    n_channels: int | None = None
    n_classes: int | None = None

    def check(self, path: str) -> None:
        if self.max_duration_ms is not None and not (math.isfinite(self.max_duration_ms) and self.max_duration_ms > 0):
            raise ValidationError(f"{path}.max_duration_ms", f"got {self.max_duration_ms}", "a finite number > 0 ms")
        for name in ("n_channels", "n_classes"):
            value = getattr(self, name)
            if value is not None and not 1 <= value <= MAX_POPULATION_SIZE:
                raise ValidationError(f"{path}.{name}", f"got {value}", f"[1, {MAX_POPULATION_SIZE}]")


@dataclass
class RawSplit:
    """One split as read: ``labels``, and either ``raster`` or events ``(sample, time_ms, channel)``."""

    name: str
    source: str
    labels: np.ndarray
    raster: np.ndarray | None = None
    events: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def _integers(array: np.ndarray, field: str, file: Path, allowed: str) -> np.ndarray:
    if array.dtype.kind in "iu":
        return array.astype(np.int64)
    if array.dtype.kind == "f" and np.all(np.isfinite(array)) and np.all(array == np.floor(array)):
        return array.astype(np.int64)
    raise ValidationError(field, f"dtype {array.dtype} with values that are not whole numbers", allowed, file=file)


def check_labels(labels: Any, n_samples: int, field: str, file: Path | str | None) -> np.ndarray:
    """int64 ``[n_samples]`` labels, each >= 0 (the upper bound is checked once n_classes is known)."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != n_samples:
        raise ValidationError(field, f"shape {list(labels.shape)}", f"[{n_samples}] (one label per sample)", file=file)
    labels = _integers(labels, field, file, "integer class indices")
    if labels.size and labels.min() < 0:
        raise ValidationError(field, f"smallest label {labels.min()}", "class indices >= 0", file=file)
    return labels


def check_raster(spikes: Any, field: str, file: Path | str | None) -> np.ndarray:
    """bool ``[samples, steps, channels]`` from a 0/1 array (never thresholded or clipped)."""
    spikes = np.asarray(spikes)
    if spikes.ndim != 3:
        raise ValidationError(field, f"shape {list(spikes.shape)}", "[samples, steps, channels]", file=file)
    if spikes.dtype == np.bool_:
        return spikes
    if spikes.dtype.kind not in "iuf":
        raise ValidationError(field, f"dtype {spikes.dtype}", "bool, or numbers that are all 0 or 1", file=file)
    ones = spikes == 1
    if not np.all(ones | (spikes == 0)):
        bad = spikes[~(ones | (spikes == 0))]
        raise ValidationError(
            field,
            f"values other than 0 and 1 (e.g. {bad.flat[0]!r}, {bad.size} in all)",
            "0 or 1 per step and channel (give events to have several binned and counted)",
            file=file,
        )
    return ones


def _events(array: np.ndarray, file: Path, time_unit: str, dt_ms: float) -> tuple[np.ndarray, ...]:
    if array.dtype.names is not None:
        missing = [name for name in EVENT_FIELDS if name not in array.dtype.names]
        if missing or array.ndim != 1:
            raise ValidationError(
                "events",
                f"fields {list(array.dtype.names)} of shape {list(array.shape)}",
                "a 1-D structured array with fields sample, time, channel",
                file=file,
            )
        columns = [np.asarray(array[name]) for name in EVENT_FIELDS]
    else:
        if array.ndim != 2 or array.shape[1] != 3 or array.dtype.kind not in "iuf":
            raise ValidationError(
                "events",
                f"dtype {array.dtype} of shape {list(array.shape)}",
                "numbers [n_events, 3]: columns sample, time, channel",
                file=file,
            )
        columns = [array[:, k] for k in range(3)]
    sample = _integers(columns[0], "events.sample", file, "integer sample indices")
    channel = _integers(columns[2], "events.channel", file, "integer channel indices")
    times = np.asarray(columns[1], np.float64)
    if times.size and not (np.all(np.isfinite(times)) and times.min() >= 0):
        raise ValidationError(
            "events.time", "negative, NaN or infinite times", f"finite times >= 0 {time_unit}", file=file
        )
    if sample.size and sample.min() < 0:
        raise ValidationError("events.sample", f"smallest sample {sample.min()}", "indices >= 0", file=file)
    if channel.size and channel.min() < 0:
        raise ValidationError("events.channel", f"smallest channel {channel.min()}", "indices >= 0", file=file)
    with np.errstate(over="ignore"):
        times_ms = times * dt_ms if time_unit == "steps" else times * MS_PER_UNIT[time_unit]
    if times_ms.size and not np.all(np.isfinite(times_ms)):
        raise ValidationError(
            "events.time", f"latest time {times.max()} {time_unit} overflows in ms", "finite times in ms", file=file
        )
    if time_unit == "steps":
        times_ms = _binned_in_step(times_ms, np.floor(times), dt_ms)
    return sample, times_ms, channel


def _binned_in_step(times_ms: np.ndarray, steps: np.ndarray, dt_ms: float) -> np.ndarray:
    """``times_ms`` (= steps * dt_ms) raised by the few ulps that make binning, ``floor(t / dt_ms)``,
    give back ``steps``: k * dt / dt falls below k for about 5 % of the steps k (an event at step 43
    on 0.1 ms steps was binned into step 42)."""
    times_ms = times_ms.copy()
    for _ in range(8):  # one ulp up suffices in practice
        early = np.floor(times_ms / dt_ms) < steps
        if not early.any():
            break
        times_ms[early] = np.nextafter(times_ms[early], np.inf)
    return times_ms


def read_split(path: str | Path, split: str, parameters: ArrayParameters, dt_ms: float) -> RawSplit:
    """Read and check one ``.npz`` split (see the module docstring)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise ValidationError(f"data.{split}", f"{file} not found", "an .npz file with labels and spikes or events")
    arrays = read_npz(file)  # duplicates, object arrays and oversized declarations refused
    kinds = [name for name in ("spikes", "events") if name in arrays]
    if len(kinds) != 1 or "labels" not in arrays:
        raise ValidationError(
            "(arrays)",
            f"holds {sorted(arrays)}",
            "labels and exactly one of spikes [samples, steps, channels] or events",
            file=file,
        )
    if np.ndim(arrays["labels"]) == 1 and np.shape(arrays["labels"])[0] == 0:
        raise ValidationError("labels", "0 samples", "at least 1 sample (one label per sample)", file=file)
    if "spikes" in arrays:
        raster = check_raster(arrays["spikes"], "spikes", file)
        if 0 in raster.shape[1:]:
            raise ValidationError(
                "spikes",
                f"shape {list(raster.shape)}",
                "[samples, steps, channels] of >= 1 step and channel",
                file=file,
            )
        if "dt_ms" in arrays:
            stated = arrays["dt_ms"]
            if stated.shape != () or stated.dtype.kind not in "iuf":
                raise ValidationError(
                    "dt_ms", f"{stated.dtype} of shape {list(stated.shape)}", "one number (ms per step)", file=file
                )
            if not np.isclose(float(stated), dt_ms, rtol=1e-12, atol=0):
                raise ValidationError(
                    "dt_ms", f"the raster is on {float(stated)} ms steps", f"the network's dt_ms = {dt_ms}", file=file
                )
        labels = check_labels(arrays["labels"], raster.shape[0], "labels", file)
        return RawSplit(split, str(file), labels, raster=raster)
    sample, times_ms, channel = _events(arrays["events"], file, parameters.time_unit, dt_ms)
    labels = np.asarray(arrays["labels"])
    labels = check_labels(labels, labels.shape[0] if labels.ndim == 1 else -1, "labels", file)
    if sample.size and sample.max() >= labels.size:
        raise ValidationError(
            "events.sample",
            f"largest sample {sample.max()}",
            f"[0, {labels.size - 1}] (one label per sample)",
            file=file,
        )
    return RawSplit(split, str(file), labels, events=(sample, times_ms, channel))


def assemble(raw: dict[str, RawSplit], parameters: ArrayParameters, dt_ms: float, task: str) -> DataSplits:
    """Bin event splits, check channel counts and labels across splits, and build the datasets."""
    n_classes = parameters.n_classes or 1 + max(int(split.labels.max(initial=0)) for split in raw.values())
    largest = max(raw.values(), key=lambda split: int(split.labels.max(initial=0)))
    if n_classes > MAX_POPULATION_SIZE:  # derived: a given n_classes is checked with the config
        raise ValidationError(
            "labels",
            f"largest label {n_classes - 1} asks for {n_classes} readout neurons",
            f"labels in [0, {MAX_POPULATION_SIZE - 1}] (one readout neuron per class)",
            file=largest.source,
        )
    channels_seen = {
        split.source: split.raster.shape[2] if split.raster is not None else 1 + int(split.events[2].max(initial=-1))
        for split in raw.values()
    }
    widest = max(channels_seen, key=channels_seen.get)
    n_channels = parameters.n_channels or channels_seen[widest]
    if n_channels > MAX_POPULATION_SIZE:
        raise ValidationError(
            "events.channel",
            f"largest channel {n_channels - 1} asks for {n_channels} inputs",
            f"channels in [0, {MAX_POPULATION_SIZE - 1}]",
            file=widest,
        )
    if n_channels == 0:
        raise ValidationError(
            "data.n_channels", "not given, and no split holds an event", "the number of input channels (>= 1)"
        )
    latest = max(
        ((float(split.events[1].max(initial=0.0)), split.source) for split in raw.values() if split.events is not None),
        default=(0.0, ""),
    )
    if parameters.max_duration_ms is None:  # the duration comes from the latest event
        try:
            check_step_count(latest[0], dt_ms, "events.time")
        except ValidationError as error:
            raise ValidationError(
                error.field, error.problem, f"{error.allowed}, or set data.max_duration_ms", file=latest[1]
            ) from None
    duration_ms = parameters.max_duration_ms or (math.floor(latest[0] / dt_ms) + 1) * dt_ms
    datasets = {}
    for name, split in raw.items():
        if split.labels.size and split.labels.max() >= n_classes:
            raise ValidationError(
                "labels",
                f"largest label {split.labels.max()}",
                f"[0, {n_classes - 1}] (data.n_classes = {n_classes})",
                file=split.source,
            )
        metadata: dict[str, Any] = {"source": split.source}
        if split.raster is not None:
            if split.raster.shape[2] != n_channels:
                raise ValidationError(
                    "spikes",
                    f"{split.raster.shape[2]} channels",
                    f"{n_channels} (as the other splits / data.n_channels)",
                    file=split.source,
                )
            inputs = split.raster
        else:
            sample, times_ms, channel = split.events
            if channel.size and channel.max() >= n_channels:
                raise ValidationError(
                    "events.channel",
                    f"largest channel {channel.max()}",
                    f"[0, {n_channels - 1}] (data.n_channels = {n_channels})",
                    file=split.source,
                )
            steps = steps_for_duration(duration_ms, dt_ms)
            check_memory(
                "events",
                float(split.labels.size) * steps * n_channels,
                f"the binned raster [{split.labels.size} samples, {steps} steps, {n_channels} channels]",
                file=split.source,
            )
            inputs, report = bin_event_rows(sample, times_ms, channel, split.labels.size, n_channels, steps, dt_ms)
            metadata.update(
                binning="step floor(t / dt_ms), at most one spike per channel and step",
                max_duration_ms=duration_ms,
                binning_report=report.as_dict(),
            )
            console.note(
                f"{task}/{name}: {split.labels.size} samples from {Path(split.source).name}, "
                f"{inputs.shape[1]} steps of {dt_ms} ms: {report.summary()}"
            )
        datasets[name] = Dataset(f"{task}/{name}", inputs, split.labels, dt_ms, n_classes, metadata)
    return DataSplits(train=datasets["train"], test=datasets["test"], validation=datasets.get("validation"))


def bin_event_rows(
    sample: np.ndarray,
    times_ms: np.ndarray,
    channel: np.ndarray,
    n_samples: int,
    n_channels: int,
    steps: int,
    dt_ms: float,
) -> tuple[np.ndarray, BinningReport]:
    """bool ``[n_samples, steps, n_channels]`` from event rows, with the binning report."""
    order = np.argsort(sample, kind="stable")
    bounds = np.searchsorted(sample[order], np.arange(n_samples + 1))
    samples = [
        (times_ms[order[bounds[k] : bounds[k + 1]]], channel[order[bounds[k] : bounds[k + 1]]])
        for k in range(n_samples)
    ]
    inputs = np.zeros((n_samples, steps, n_channels), dtype=bool)
    return inputs, bin_samples(samples, inputs, dt_ms)


def load_arrays(parameters: ArrayParameters, dt_ms: float) -> DataSplits:
    """The splits of the task ``arrays``."""
    files = {"train": parameters.train, "test": parameters.test}
    if parameters.validation is not None:
        files["validation"] = parameters.validation
    raw = {}
    for split, path in files.items():
        try:
            raw[split] = read_split(path, split, parameters, dt_ms)
        except ValidationError as error:
            raise error if error.file else error.in_file(Path(path).expanduser()) from None
    return assemble(raw, parameters, dt_ms, "arrays")


def dataset_from_samples(
    samples: Iterable[tuple[Any, Any]], name: str, dt_ms: float, n_classes: int | None = None
) -> Dataset:
    """A :class:`Dataset` from ``(spikes, label)`` pairs (a list, any iterable, a torch Dataset).

    spikes: ``[steps, channels]`` array-like (numpy, torch, lists) of 0/1 values on ``dt_ms``;
    samples of fewer steps are padded with silence to the longest (recorded in the metadata).
    """
    if n_classes is not None and not (isinstance(n_classes, int) and 1 <= n_classes <= MAX_POPULATION_SIZE):
        raise ValidationError("n_classes", f"got {n_classes!r}", f"None or an integer in [1, {MAX_POPULATION_SIZE}]")
    try:
        items = iter(samples)
    except TypeError:
        raise ValidationError(name, f"got {type(samples).__name__}", "an iterable of (spikes, label) pairs") from None
    rasters, labels = [], []
    for index, item in enumerate(items):
        if not isinstance(item, (tuple, list)) or len(item) != 2:
            raise ValidationError(f"{name}[{index}]", f"got {type(item).__name__}", "a (spikes, label) pair")
        spikes, label = item
        if hasattr(spikes, "detach"):  # a torch tensor
            spikes = spikes.detach().cpu().numpy()
        try:
            array = np.asarray(spikes)
        except ValueError:  # nested lists of different lengths
            raise ValidationError(
                f"{name}[{index}].spikes", "rows of different lengths", "a rectangular [steps, channels] array"
            ) from None
        raster = check_raster(array[None], f"{name}[{index}].spikes", None)[0]
        if raster.ndim != 2:
            raise ValidationError(f"{name}[{index}].spikes", f"shape {list(raster.shape)}", "[steps, channels]")
        if rasters and raster.shape[1] != rasters[0].shape[1]:
            raise ValidationError(
                f"{name}[{index}].spikes", f"{raster.shape[1]} channels", f"{rasters[0].shape[1]} (as sample 0)"
            )
        rasters.append(raster)
        labels.append(sample_label(label, f"{name}[{index}].label"))
    if not rasters:
        raise ValidationError(name, "no samples", "at least one (spikes, label) pair")
    steps = max(raster.shape[0] for raster in rasters)
    inputs = np.zeros((len(rasters), steps, rasters[0].shape[1]), dtype=bool)
    for index, raster in enumerate(rasters):
        inputs[index, : raster.shape[0]] = raster
    label_array = check_labels(np.array(labels), len(labels), f"{name}.labels", None)
    padded = int(sum(raster.shape[0] < steps for raster in rasters))
    classes = n_classes or 1 + int(label_array.max())
    if classes > MAX_POPULATION_SIZE:
        raise ValidationError(
            f"{name}.labels",
            f"largest label {classes - 1} asks for {classes} readout neurons",
            f"labels in [0, {MAX_POPULATION_SIZE - 1}] (one readout neuron per class)",
        )
    return Dataset(
        name,
        inputs,
        label_array,
        dt_ms,
        classes,
        {"source": "Python samples", "steps": steps, "padded_samples": padded},
    )


def sample_label(label: Any, field: str) -> int:
    """One sample's class index: an integer (Python, numpy or a one-element tensor / array), or a
    float that is a whole number; anything else (a fraction, NaN, a string, None) is refused, never
    truncated."""
    if hasattr(label, "detach"):  # a torch tensor
        label = label.detach().cpu().numpy()
    try:
        value = np.asarray(label)
    except ValueError:
        value = np.asarray(None)
    if value.size == 1 and value.dtype.kind in "biu":  # a bool is 0 or 1
        return int(value.item())
    if value.size == 1 and value.dtype.kind == "f" and math.isfinite(value.item()) and value.item().is_integer():
        return int(value.item())
    shown = repr(label) if value.size <= 3 else f"{value.dtype} of shape {list(value.shape)}"
    raise ValidationError(field, f"got {shown[:80]}", "an integer class index >= 0")
