"""The sequence-detection task of the delay-learning paper: which of two inputs fires first?

Two input neurons; class 0: input 0 spikes at ``onset_ms`` and input 1 at ``onset_ms + interval_ms``;
class 1: the reverse. With equal weights, only delays can tell the two orders apart: delays that
make both spikes arrive together at the output of the right class raise its voltage maximum.
The training split lists both patterns ``repeats`` times (the paper's code: twice), the test
split each pattern once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import ValidationError
from .dataset import Dataset, DataSplits
from .yin_yang import steps_for

N_CLASSES = 2


@dataclass(frozen=True)
class SequenceParameters:
    """Spike times of the two patterns in ms and the trial length."""

    onset_ms: float = 0.0
    interval_ms: float = 10.0
    duration_ms: float = 25.0
    repeats: int = 2

    def check(self, path: str) -> None:
        if self.onset_ms < 0.0:
            raise ValidationError(f"{path}.onset_ms", f"got {self.onset_ms}", ">= 0 ms")
        if self.interval_ms <= 0.0:
            raise ValidationError(f"{path}.interval_ms", f"got {self.interval_ms}", "> 0 ms")
        if not self.onset_ms + self.interval_ms < self.duration_ms:
            raise ValidationError(
                f"{path}.duration_ms",
                f"got {self.duration_ms}",
                f"> onset_ms + interval_ms = {self.onset_ms + self.interval_ms}",
            )
        if self.repeats < 1:
            raise ValidationError(f"{path}.repeats", f"got {self.repeats}", ">= 1")


def sequence_patterns(parameters: SequenceParameters, dt_ms: float) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs bool [2, steps, 2], labels [2])``: the two orders, class 0 then class 1."""
    steps = steps_for(parameters.duration_ms, dt_ms)
    first, second = (
        int(np.floor(t / dt_ms + 0.5)) for t in (parameters.onset_ms, parameters.onset_ms + parameters.interval_ms)
    )
    for name, step, time_ms in (
        ("onset_ms", first, parameters.onset_ms),
        ("interval_ms", second, parameters.onset_ms + parameters.interval_ms),
    ):
        if abs(step * dt_ms - time_ms) > 1e-9 * max(1.0, time_ms):
            raise ValidationError(
                f"data.{name}",
                f"spike time {time_ms} ms is not on the {dt_ms} ms grid",
                "a whole multiple of network.dt_ms (this task is defined by exact times)",
            )
    if second >= steps:
        raise ValidationError(
            "data.duration_ms", f"{steps} steps are too few for a spike at step {second}", f"> {second * dt_ms} ms"
        )
    inputs = np.zeros((2, steps, 2), bool)
    inputs[0, first, 0] = inputs[0, second, 1] = True
    inputs[1, first, 1] = inputs[1, second, 0] = True
    return inputs, np.array([0, 1], np.int64)


def load_sequence(parameters: SequenceParameters, dt_ms: float) -> DataSplits:
    inputs, labels = sequence_patterns(parameters, dt_ms)
    metadata = {
        "generator": "sequence detection (two inputs, A then B vs B then A)",
        "interval_ms": parameters.interval_ms,
        "encoding": "exact spike times on the dt grid",
    }
    train = Dataset(
        "sequence_detection/train",
        np.tile(inputs, (parameters.repeats, 1, 1)),
        np.tile(labels, parameters.repeats),
        dt_ms,
        N_CLASSES,
        dict(metadata, repeats=parameters.repeats),
    )
    test = Dataset("sequence_detection/test", inputs, labels, dt_ms, N_CLASSES, metadata)
    return DataSplits(train=train, test=test)
