"""The registry of tasks a training config can name in ``data.task``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from ..errors import NeurodelayError
from .arrays import ArrayParameters, load_arrays
from .dataset import DataSplits
from .braille import BrailleParameters, load_braille
from .sequence import SequenceParameters, load_sequence
from .shd import SHDParameters, SSCParameters, load_shd, load_ssc
from .tonic_datasets import TonicParameters, load_tonic
from .yin_yang import YinYangParameters, load_yin_yang


@dataclass(frozen=True)
class SamplesParameters:
    """Task ``samples``: data given from Python to :func:`neurodelay.train.train_on` (no fields)."""


def load_samples(parameters: SamplesParameters, dt_ms: float) -> DataSplits:
    raise NeurodelayError(
        "data.task 'samples' takes its data from Python: call neurodelay.train.train_on(train, "
        "test, config, out); from the command line use task arrays (.npz) or tonic"
    )


@dataclass(frozen=True)
class TaskSpec:
    """A task: its parameter dataclass (fields = the config keys, with defaults and a
    ``check(path)`` method) and ``load(parameters, dt_ms) -> DataSplits``."""

    parameters: type
    load: Callable[[Any, float], DataSplits]


TASKS: dict[str, TaskSpec] = {
    "yin_yang": TaskSpec(YinYangParameters, load_yin_yang),
    "sequence_detection": TaskSpec(SequenceParameters, load_sequence),
    "shd": TaskSpec(SHDParameters, load_shd),
    "ssc": TaskSpec(SSCParameters, load_ssc),
    "braille": TaskSpec(BrailleParameters, load_braille),
    "arrays": TaskSpec(ArrayParameters, load_arrays),
    "tonic": TaskSpec(TonicParameters, load_tonic),
    "samples": TaskSpec(SamplesParameters, load_samples),
}


def load_task(task: str, parameters: Any, dt_ms: float) -> DataSplits:
    """The splits of ``task`` (a key of :data:`TASKS`) made with ``parameters`` on ``dt_ms``."""
    return TASKS[task].load(parameters, dt_ms)
