"""Binning of event-based recordings (spike times per channel) onto the run's timestep.

The rule is the paper's histogram binning (docs/engine.md §E6): an event at time ``t`` ms goes to
step ``floor(t / dt_ms)`` (bin edges 0, dt, 2 dt, ...), and a step holds at most one spike per
channel. Events at or after ``max_duration_ms`` are dropped (the paper deletes SHD/SSC events at
t >= 1 s). Nothing is lost silently: :class:`BinningReport` counts the events merged into an
already occupied (step, channel) bin and the events dropped past the maximum duration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import ValidationError


MAX_STEPS = 10**9
"""Timesteps per sample a duration and ``dt_ms`` may ask for (one bool raster of one channel: 1 GB)."""


def check_step_count(duration_ms: float, dt_ms: float, field: str) -> float:
    """``duration_ms / dt_ms`` (timesteps, not rounded); a :class:`ValidationError` on ``field`` when
    it overflows or exceeds :data:`MAX_STEPS`."""
    ratio = duration_ms / dt_ms if dt_ms > 0 else math.inf
    if not ratio <= MAX_STEPS:
        raise ValidationError(
            field,
            f"{duration_ms} ms on steps of network.dt_ms = {dt_ms} ms is {ratio:.4g} timesteps",
            f"at most {MAX_STEPS} timesteps per sample (a shorter duration or a larger dt_ms)",
        )
    return ratio


def steps_for_duration(max_duration_ms: float, dt_ms: float) -> int:
    """Timesteps that cover ``[0, max_duration_ms)``: ``ceil(max_duration_ms / dt_ms)``, at most
    :data:`MAX_STEPS`."""
    if not (math.isfinite(max_duration_ms) and max_duration_ms > 0):
        raise ValidationError("data.max_duration_ms", f"got {max_duration_ms}", "a finite number > 0 ms")
    if not (math.isfinite(dt_ms) and dt_ms > 0):
        raise ValidationError("network.dt_ms", f"got {dt_ms}", "a finite number > 0 ms")
    return int(math.ceil(check_step_count(max_duration_ms, dt_ms, "data.max_duration_ms")))


@dataclass
class BinningReport:
    """What binning did to the events of one split (counts of events, not of samples).

    events: events read; spikes: spikes in the raster (events - merged - dropped_late);
    merged: events that fell into an already occupied (step, channel) bin;
    dropped_late: events at ``t >= max_duration_ms``; samples_with_late_events: samples that lost
    at least one event that way; latest_event_ms: the latest event time seen (before dropping).
    """

    events: int = 0
    spikes: int = 0
    merged: int = 0
    dropped_late: int = 0
    samples_with_late_events: int = 0
    latest_event_ms: float = 0.0
    extra: dict = field(default_factory=dict)

    def add(self, other: "BinningReport") -> None:
        for name in ("events", "spikes", "merged", "dropped_late", "samples_with_late_events"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.latest_event_ms = max(self.latest_event_ms, other.latest_event_ms)

    def as_dict(self) -> dict:
        record = {
            name: getattr(self, name)
            for name in ("events", "spikes", "merged", "dropped_late", "samples_with_late_events")
        }
        record["latest_event_ms"] = float(self.latest_event_ms)
        return dict(record, **self.extra)

    def summary(self) -> str:
        return (
            f"{self.events} events -> {self.spikes} spikes; {self.merged} merged into occupied "
            f"bins (one spike per channel and step), {self.dropped_late} dropped at or after the "
            f"maximum duration ({self.samples_with_late_events} samples affected)"
        )


def bin_sample(times_ms: np.ndarray, channels: np.ndarray, raster: np.ndarray, dt_ms: float) -> BinningReport:
    """Write one sample's events into ``raster`` (bool ``[steps, n_channels]``, cleared first).

    times_ms: float ``[n_events]`` event times in ms (>= 0, checked by the reader);
    channels: int ``[n_events]`` channel indices in ``[0, n_channels)`` (checked by the reader).
    The raster covers ``steps * dt_ms`` ms; events at or after that time are dropped.
    """
    steps = raster.shape[0]
    raster[...] = False
    report = BinningReport(events=int(times_ms.size))
    if times_ms.size == 0:
        return report
    report.latest_event_ms = float(times_ms.max())
    step_index = np.floor(np.asarray(times_ms, np.float64) / dt_ms).astype(np.int64)
    in_time = step_index < steps
    report.dropped_late = int(times_ms.size - np.count_nonzero(in_time))
    report.samples_with_late_events = int(report.dropped_late > 0)
    step_index, kept_channels = step_index[in_time], np.asarray(channels, np.int64)[in_time]
    raster[step_index, kept_channels] = True
    report.spikes = int(np.count_nonzero(raster))
    report.merged = int(step_index.size - report.spikes)
    return report


def bin_samples(samples: list[tuple[np.ndarray, np.ndarray]], out: np.ndarray, dt_ms: float) -> BinningReport:
    """Bin every ``(times_ms, channels)`` sample into ``out[k]`` (bool ``[n, steps, n_channels]``)."""
    report = BinningReport()
    for index, (times_ms, channels) in enumerate(samples):
        report.add(bin_sample(times_ms, channels, out[index], dt_ms))
    return report
