"""The one recording layout every executor returns (refsim modes, torch engine, the targets' tool chains).

Per population: ``spikes`` ``[batch, steps, n]`` bool, and ``states[name]`` ``[batch, steps, n]``
holding each state variable at the end of each step (after threshold and reset) in the executor's
own units, with ``state_scales[name]`` the float (network-unit) value of one such unit: 1.0 for
float executors, e.g. 1/64 of a threshold unit for a chip that scales its threshold by 64. Step n of the recording is step n
of the IR's dynamics (see :mod:`neurodelay.ir.nodes`); executors with a different step numbering
shift their data into this one before returning it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .atomic import write_with
from .bounded_npz import read_npz
from .errors import ValidationError


def holds_only_spikes(array: np.ndarray) -> bool:
    """Whether ``array`` (any shape) is of a bool, integer or real dtype with every value 0 or 1,
    so that casting it to bool loses nothing."""
    return array.dtype.kind in "biuf" and (array.dtype == bool or bool(np.all((array == 0) | (array == 1))))


@dataclass
class PopulationRecording:
    """Spikes ``[batch, steps, n]`` (bool) and states ``{name: [batch, steps, n]}`` of one population."""

    spikes: np.ndarray
    states: dict[str, np.ndarray] = field(default_factory=dict)
    state_scales: dict[str, float] = field(default_factory=dict)

    def state_as_float(self, name: str) -> np.ndarray:
        """State ``name`` converted to network units (float64)."""
        return self.states[name].astype(np.float64) * self.state_scales.get(name, 1.0)


@dataclass
class Recording:
    """What one executor recorded for one batch of inputs.

    executor: what produced it, e.g. ``refsim-float``, ``refsim-<target>``, or an executor's name.
    dt_ms: the timestep in ms; steps: number of steps recorded.
    populations: per population name (spike sources included, their spikes being the inputs).
    """

    executor: str
    dt_ms: float
    steps: int
    populations: dict[str, PopulationRecording]

    def spikes(self, population: str) -> np.ndarray:
        return self.populations[population].spikes

    def save(self, path: str | Path) -> Path:
        """Write to a ``.npz`` atomically (no pickle); :meth:`load` reads it back."""
        path = Path(path)
        arrays: dict[str, np.ndarray] = {
            "executor": np.array(self.executor),
            "dt_ms": np.array(self.dt_ms),
            "steps": np.array(self.steps),
        }
        for name, population in self.populations.items():
            arrays[f"{name}/spikes"] = population.spikes
            for state, values in population.states.items():
                arrays[f"{name}/state/{state}"] = values
                arrays[f"{name}/scale/{state}"] = np.array(population.state_scales.get(state, 1.0))
        return write_with(path, lambda stream: np.savez_compressed(stream, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> "Recording":
        data = read_npz(path)
        try:
            populations: dict[str, PopulationRecording] = {}
            for key in data:
                if key.endswith("/spikes"):
                    spikes = data[key]
                    if not holds_only_spikes(spikes):
                        raise ValidationError(key, "values other than 0 and 1", "spikes as 0/1 or bool", file=path)
                    populations[key[: -len("/spikes")]] = PopulationRecording(spikes.astype(bool))
            for key in data:
                parts = key.split("/")
                if len(parts) == 3 and parts[1] == "state":
                    populations[parts[0]].states[parts[2]] = data[key]
                    populations[parts[0]].state_scales[parts[2]] = float(data[f"{parts[0]}/scale/{parts[2]}"])
            recording = cls(str(data["executor"]), float(data["dt_ms"]), int(data["steps"]), populations)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise ValidationError(
                "(file)", f"not a neurodelay recording ({error})", "a .npz written by Recording.save", file=path
            ) from None
        _check_layout(data, recording, path)
        return recording


def _check_layout(data: dict[str, np.ndarray], recording: Recording, path: str | Path) -> None:
    """The shapes and values :meth:`Recording.save` writes: a step count >= 1 and a dt_ms > 0 (scalars
    of a numeric dtype), and per population ``[batch, steps, n]`` spikes (one batch for all, n >= 1)
    with real states of the same shape and finite scalar scales."""

    def refuse(field: str, problem: str, allowed: str) -> None:
        raise ValidationError(field, problem, allowed, file=path)

    steps, dt_ms = data["steps"], data["dt_ms"]
    if steps.shape != () or steps.dtype.kind not in "iu" or recording.steps < 1:
        refuse("steps", f"{steps.dtype} {steps.tolist()!r}", "one integer >= 1")
    if dt_ms.shape != () or dt_ms.dtype.kind not in "iuf" or not 0 < recording.dt_ms < np.inf:
        refuse("dt_ms", f"{dt_ms.dtype} {dt_ms.tolist()!r}", "one finite number > 0 (ms)")
    if not recording.populations:
        refuse("(populations)", "no <population>/spikes array", "at least one population")
    batch = None
    for name, population in recording.populations.items():
        shape = population.spikes.shape
        if len(shape) != 3 or shape[1] != recording.steps or shape[0] < 1 or shape[2] < 1:
            refuse(f"{name}/spikes", f"shape {list(shape)}", f"[batch >= 1, steps = {recording.steps}, n >= 1]")
        if batch is not None and shape[0] != batch:
            refuse(f"{name}/spikes", f"a batch of {shape[0]}", f"{batch}, as the other populations")
        batch = shape[0]
        for state, values in population.states.items():
            if values.shape != shape or values.dtype.kind not in "biuf":
                refuse(
                    f"{name}/state/{state}",
                    f"{values.dtype} of shape {list(values.shape)}",
                    f"numbers of shape {list(shape)}",
                )
            scale = population.state_scales[state]
            if data[f"{name}/scale/{state}"].shape != () or not np.isfinite(scale):
                refuse(f"{name}/scale/{state}", f"{scale!r}", "one finite number")
