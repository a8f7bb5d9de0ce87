"""The search space of a sweep (``SPACE.yaml``) and how a trial's values enter a config.

Layout::

    sampler: grid | random | tpe      # grid: every combination of the `values` lists
    trials: 20                        # random / tpe: how many trials (grid: the grid's size)
    seed: 0                           # the sampler's seed
    metric: best_validation_accuracy  # what the sweep optimises (see METRICS)
    parameters:                       # config field path -> range
      optimiser.weight_lr: {values: [0.002, 0.005, 0.01]}
      optimiser.delay_lr: {low: 0.05, high: 0.5, log: true}
      network.hidden[0].size: {low: 50, high: 200, step: 50, type: int}

A field path is the one validation errors print: dotted names with ``[i]`` for list items. It may
lead into an optional section that the config leaves out or sets to null (the section is created);
the config with the values applied is validated as a whole, so a path or value the config does not
accept is an error naming the field.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..bounded_yaml import read_yaml_file
from ..errors import ValidationError
from ..train.config import ExperimentConfig, config_from_dict
from ..train.schema import build

METRICS = {
    # name: (direction, what it reads from a run's per-epoch records)
    "best_validation_accuracy": ("maximize", "validation accuracy at the best epoch"),
    "final_validation_accuracy": ("maximize", "validation accuracy after the last epoch"),
    "final_train_accuracy": ("maximize", "training accuracy of the last epoch"),
    "final_train_loss": ("minimize", "training loss of the last epoch"),
    "best_test_accuracy": ("maximize", "test accuracy at the best epoch (selects on the test set: only for reporting)"),
    "final_test_accuracy": ("maximize", "test accuracy after the last epoch (selects on the test set)"),
}
MAX_STEPS_IN_RANGE = 10**9
"""Points a range with a ``step`` may hold."""
MAX_TRIALS = 100_000
"""Trials of one sweep: a grid sampler lists every point of the grid when it starts, and every
draw reads all trials from the study."""
MAX_JOBS = 1024
"""Trial processes of one sweep command."""
MAX_SEED = 2**32 - 1 - MAX_JOBS
"""Largest sampler seed: worker ``w`` (< MAX_JOBS) seeds with ``seed + w``, and numpy takes < 2**32."""
_NAME = r"[A-Za-z_]\w*(?:\[\d+\])*"
_PATH = re.compile(rf"{_NAME}(?:\.{_NAME})*")
_STEP = re.compile(r"([A-Za-z_]\w*)|\[(\d+)\]")


@dataclass(frozen=True)
class ParameterRange:
    """One parameter: ``values`` (a list: categorical, the only form a grid takes) or a range
    ``low``..``high`` of ``type`` float or int, optionally ``log``-uniform or with a ``step``."""

    values: list[Any] | None = None
    low: float | None = None
    high: float | None = None
    type: Literal["float", "int"] = "float"
    log: bool = False
    step: float | None = None

    def check(self, path: str) -> None:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValidationError(
                path, "needs either values or both low and high", "{values: [...]} or {low: L, high: H}"
            )
        if self.values is not None:
            if not self.values:
                raise ValidationError(f"{path}.values", "empty", "at least one value")
            if not all(value is None or isinstance(value, (str, int, float, bool)) for value in self.values):
                raise ValidationError(f"{path}.values", "holds a list or mapping", "numbers, strings, booleans or null")
            if len({repr(value) for value in self.values}) != len(self.values):
                raise ValidationError(f"{path}.values", "repeats a value", "distinct values")
            return
        if not self.low < self.high:
            raise ValidationError(f"{path}.high", f"got low={self.low}, high={self.high}", "high > low")
        if self.log and (self.low <= 0 or self.step is not None):
            raise ValidationError(f"{path}.log", "log needs low > 0 and no step", "low > 0 without step")
        if self.step is not None and self.step <= 0:
            raise ValidationError(f"{path}.step", f"got {self.step}", "> 0")
        if self.type == "int" and not all(float(v).is_integer() for v in (self.low, self.high, self.step or 1)):
            raise ValidationError(path, "type int with fractional low, high or step", "whole numbers")
        if self.step is not None:  # Optuna would otherwise move high down to the last step, with a warning only
            count = (self.high - self.low) / self.step
            if not count <= MAX_STEPS_IN_RANGE:
                raise ValidationError(
                    f"{path}.step",
                    f"{self.step} makes {count:.4g} steps of high - low = {self.high - self.low:.6g}",
                    f"at most {MAX_STEPS_IN_RANGE} steps (a larger step, or no step: continuous)",
                )
            if abs(count - round(count)) > 1e-9 * max(1.0, count):
                last = self.low + math.floor(count) * self.step
                raise ValidationError(
                    f"{path}.step",
                    f"{self.step} does not divide high - low = {self.high - self.low:.6g}",
                    f"a step that divides high - low, so that the range ends at high (e.g. high = {last:.6g})",
                )


@dataclass(frozen=True)
class SearchSpace:
    """A parsed ``SPACE.yaml`` (see the module docstring)."""

    parameters: dict[str, ParameterRange]
    sampler: Literal["grid", "random", "tpe"] = "tpe"
    trials: int | None = None
    seed: int = 0
    metric: Literal[
        "best_validation_accuracy",
        "final_validation_accuracy",
        "final_train_accuracy",
        "final_train_loss",
        "best_test_accuracy",
        "final_test_accuracy",
    ] = "best_validation_accuracy"

    def check(self, path: str) -> None:
        if not self.parameters:
            raise ValidationError("parameters", "empty", "at least one config field")
        if not 0 <= self.seed <= MAX_SEED:
            raise ValidationError(
                "seed", f"got {self.seed}", f"[0, {MAX_SEED}] (worker w seeds its sampler with seed + w)"
            )
        if self.sampler == "grid":
            ranged = [name for name, spec in self.parameters.items() if spec.values is None]
            if ranged:
                raise ValidationError(f"parameters.{ranged[0]}", "a range in a grid sweep", "values: [...]")
            if self.grid_size > MAX_TRIALS:
                raise ValidationError(
                    "parameters",
                    f"a grid of {self.grid_size} points (the product of the values lists' lengths)",
                    f"at most {MAX_TRIALS} points (fewer values, or sampler random / tpe with trials)",
                )
            if self.trials is not None and self.trials != self.grid_size:
                raise ValidationError(
                    "trials",
                    f"got {self.trials} for a grid of {self.grid_size} points",
                    f"{self.grid_size} or leave it out",
                )
        elif self.trials is None or not 1 <= self.trials <= MAX_TRIALS:
            raise ValidationError(
                "trials", f"got {self.trials}", f"[1, {MAX_TRIALS}] trials for sampler {self.sampler!r}"
            )

    @property
    def grid_size(self) -> int:
        size = 1
        for spec in self.parameters.values():
            size *= len(spec.values) if spec.values is not None else 1
        return size

    @property
    def n_trials(self) -> int:
        return self.grid_size if self.sampler == "grid" else int(self.trials)

    @property
    def direction(self) -> str:
        return METRICS[self.metric][0]

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of the parameters' values (grid sweeps), in a fixed order."""
        names = list(self.parameters)
        return [
            dict(zip(names, combination))
            for combination in itertools.product(*(self.parameters[name].values for name in names))
        ]


def load_space(path: str | Path) -> SearchSpace:
    """Read and validate ``SPACE.yaml`` (errors name the file and the field)."""
    path = Path(path)
    document = read_yaml_file(path)
    try:
        return build(SearchSpace, document, "")
    except ValidationError as error:
        raise error.in_file(path) from None


def parse_path(path: str) -> list[str | int]:
    """``network.hidden[0].size`` -> ``['network', 'hidden', 0, 'size']``."""
    if not _PATH.fullmatch(path):
        raise ValidationError(
            f"parameters.{path}",
            "not a config field path",
            "names joined by dots, [i] for list items: e.g. network.hidden[0].size",
        )
    return [name if name else int(index) for name, index in _STEP.findall(path)]


def set_field(document: dict[str, Any], path: str, value: Any) -> None:
    """Set the field at ``path`` of a plain config document, creating absent or null sections."""
    steps = parse_path(path)
    target: Any = document
    for step, following in zip(steps, steps[1:]):
        if isinstance(step, int):
            if not isinstance(target, list) or step >= len(target):
                raise ValidationError(
                    f"parameters.{path}", f"index [{step}] is not in the config", "an existing list item"
                )
            target = target[step]
            continue
        if not isinstance(target, dict):
            raise ValidationError(
                f"parameters.{path}", f"{step!r} is inside a value, not a section", "a config field path"
            )
        if target.get(step) is None:
            target[step] = [] if isinstance(following, int) else {}
        target = target[step]
    last = steps[-1]
    if isinstance(last, int):
        if not isinstance(target, list) or last >= len(target):
            raise ValidationError(f"parameters.{path}", f"index [{last}] is not in the config", "an existing list item")
    elif not isinstance(target, dict):
        raise ValidationError(f"parameters.{path}", "does not lead to a section field", "a config field path")
    target[last] = value


def configured(base: ExperimentConfig, values: dict[str, Any]) -> ExperimentConfig:
    """``base`` with the trial's ``{field path: value}`` applied, validated as a whole."""
    document = copy.deepcopy(base.to_dict())
    for path, value in values.items():
        set_field(document, path, value)
    try:
        return config_from_dict(document)
    except ValidationError as error:
        raise ValidationError(error.field, f"{error.problem} (set by the sweep to {values})", error.allowed) from None


def check_space_against(base: ExperimentConfig, space: SearchSpace) -> None:
    """Apply a representative value of every parameter to ``base`` so that a bad path or range
    fails before any trial runs."""
    probe = {}
    for name, spec in space.parameters.items():
        if spec.values is not None:
            probe[name] = spec.values[0]
        else:
            probe[name] = int(spec.low) if spec.type == "int" else float(spec.low)
    configured(base, probe)
