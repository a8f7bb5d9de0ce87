"""The small surface every executor shares: ``run(network, inputs) -> Recording`` plus ``close()``.

Executors are objects with explicit lifetimes (use them as context managers); none keeps global
simulator state between runs.
"""

from __future__ import annotations

from typing import Mapping, Union

import numpy as np

from .errors import ValidationError
from .ir import Network
from .recording import Recording

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


def input_dict(network: Network, inputs: Inputs) -> dict[str, np.ndarray]:
    """Check ``inputs`` against the network's spike sources; return ``{name: bool [batch, steps, size]}``.

    All sources must share batch and step counts; values must be 0/1 (or bool).
    """
    sources = network.sources()
    if isinstance(inputs, np.ndarray):
        if len(sources) != 1:
            raise ValidationError(
                "inputs",
                f"one array given but the network has {len(sources)} spike sources",
                "a mapping {source name: array}",
            )
        inputs = {sources[0].name: inputs}
    expected = {s.name: s.size for s in sources}
    if set(inputs) != set(expected):
        raise ValidationError(
            "inputs", f"sources {sorted(inputs)} do not match the network's", f"exactly {sorted(expected)}"
        )
    result: dict[str, np.ndarray] = {}
    shape: tuple[int, int] | None = None
    for name, array in inputs.items():
        array = np.asarray(array)
        if array.ndim != 3 or array.shape[2] != expected[name]:
            raise ValidationError(f"inputs[{name}]", f"shape {list(array.shape)}", f"[batch, steps, {expected[name]}]")
        if array.dtype != bool and not np.all((array == 0) | (array == 1)):
            raise ValidationError(f"inputs[{name}]", "values other than 0 and 1", "spikes as 0/1 or bool")
        if shape is not None and array.shape[:2] != shape:
            raise ValidationError(
                f"inputs[{name}]",
                f"batch/steps {array.shape[:2]} differ from {shape}",
                "the same [batch, steps] for every source",
            )
        shape = array.shape[:2]
        result[name] = array.astype(bool)
    return result
