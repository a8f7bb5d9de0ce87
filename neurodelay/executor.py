"""The small surface every executor shares: ``run(network, inputs) -> Recording`` plus ``close()``.

Executors are objects with explicit lifetimes (use them as context managers); none keeps global
simulator state between runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Union

import numpy as np

from .bounded_npz import read_npz
from .errors import ValidationError
from .ir import Network
from .recording import Recording, holds_only_spikes

Inputs = Union[np.ndarray, Mapping[str, np.ndarray]]
"""Spike-source trains: ``{source_name: [batch, steps, size]}`` of 0/1, or one array when the
network has exactly one spike source."""


class Executor:
    """Base class: subclasses set ``name`` and implement :meth:`run`; ``close`` frees resources."""

    name = "executor"

    def run(self, network: Network, inputs: Inputs) -> Recording:
        raise NotImplementedError

    def close(self) -> None:
        """Release processes, files or devices held by this executor (idempotent)."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def input_dict(network: Network, inputs: Inputs, *, field: str = "inputs") -> dict[str, np.ndarray]:
    """Check ``inputs`` against the network's spike sources; return ``{name: bool [batch, steps, size]}``.

    All sources must share batch and step counts; values must be 0/1 (bool, integer or real dtype:
    nothing is cast to a spike that is not exactly 0 or 1). ``field`` names the inputs in errors
    (``field[source]`` for one array).
    """
    sources = network.sources()
    if isinstance(inputs, np.ndarray):
        if len(sources) != 1:
            raise ValidationError(
                field,
                f"one array given but the network has {len(sources)} spike sources",
                "a mapping {source name: array}",
            )
        inputs = {sources[0].name: inputs}
    if not isinstance(inputs, Mapping):  # a list of arrays: "unhashable type" from set() below
        raise ValidationError(
            field, f"got {type(inputs).__name__}", "a mapping {source name: [batch, steps, n] array}, or one array"
        )
    expected = {s.name: s.size for s in sources}
    if set(inputs) != set(expected):
        raise ValidationError(
            field, f"sources {sorted(inputs)} do not match the network's", f"exactly {sorted(expected)}"
        )
    result: dict[str, np.ndarray] = {}
    shape: tuple[int, int] | None = None
    for name, array in inputs.items():
        array = np.asarray(array)
        where = f"{field}[{name}]"
        if array.ndim != 3 or array.shape[2] != expected[name]:
            got = f"{array.shape[2]} channels, shape" if array.ndim == 3 else "shape"
            raise ValidationError(
                where, f"{got} {list(array.shape)}", f"[batch, steps, {expected[name]}]: {expected[name]} channels"
            )
        if array.dtype.kind not in "biuf":
            raise ValidationError(where, f"dtype {array.dtype}", "spikes as 0/1 of a bool, integer or real dtype")
        if not holds_only_spikes(array):
            raise ValidationError(where, "values other than 0 and 1", "spikes as 0/1 or bool")
        if shape is not None and array.shape[:2] != shape:
            raise ValidationError(
                where,
                f"batch/steps {array.shape[:2]} differ from {shape}",
                "the same [batch, steps] for every source",
            )
        shape = array.shape[:2]
        result[name] = array.astype(bool)
    return result


def read_spike_inputs(path: str | Path, network: Network, *, field: str) -> dict[str, np.ndarray]:
    """Spike inputs from the ``.npz`` at ``path`` (the user's file behind option ``field``): one 0/1
    ``[batch, steps, n]`` array per spike source of ``network``, keyed by source name (``inputs``
    also names the only source of a one-source network), with ``batch >= 1`` and ``steps >= 1``.
    Returns ``{name: bool [batch, steps, n]}``; any problem is a :class:`ValidationError` naming
    ``path`` and ``field[array]``."""
    arrays = read_npz(path, field=field)
    sources = network.sources()
    if set(arrays) == {"inputs"} and len(sources) == 1:
        arrays = {sources[0].name: arrays["inputs"]}
    try:
        checked = input_dict(network, arrays, field=field)
    except ValidationError as error:
        raise error.in_file(path) from None
    batch, steps = next(iter(checked.values())).shape[:2] if checked else (1, 1)
    if batch < 1 or steps < 1:
        raise ValidationError(
            f"{field}[{next(iter(checked))}]",
            f"{batch} samples of {steps} steps",
            "at least 1 sample and 1 step",
            file=path,
        )
    return checked
