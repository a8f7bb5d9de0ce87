"""The registry of tasks a training config can name in ``data.task``."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .dataset import DataSplits
from .braille import BrailleParameters, load_braille
from .sequence import SequenceParameters, load_sequence
from .shd import SHDParameters, SSCParameters, load_shd, load_ssc
from .yin_yang import YinYangParameters, load_yin_yang


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
}


def load_task(task: str, parameters: Any, dt_ms: float) -> DataSplits:
    """The splits of ``task`` (a key of :data:`TASKS`) made with ``parameters`` on ``dt_ms``."""
    return TASKS[task].load(parameters, dt_ms)
