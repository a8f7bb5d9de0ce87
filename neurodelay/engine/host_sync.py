"""Counting the places where host code would wait for the device.

On a GPU, reading a tensor's value on the host (``.item()``, ``.tolist()``, ``bool(t)``, ``int(t)``,
``.cpu()``, ``.numpy()``) or asking for a data-dependent shape (``nonzero``, ``unique``,
``repeat_interleave`` without ``output_size``, ``masked_select``) blocks the CPU until every queued
kernel has finished. :class:`HostSyncCounter` patches those entry points for the duration of a
``with`` block and counts the calls made by our code (calls inside a kernel launch, e.g. by Triton's
CPU interpreter, are not counted), so that a CPU test can show that the device path's count per
training step does not grow with the number of timesteps. On CUDA, ``torch.cuda.set_sync_debug_mode``
checks the same thing for real (``benchmarks/gpu_check.py``).

:func:`launch` is how the device path starts every kernel.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any, Callable

import torch

_state = threading.local()

_TENSOR_METHODS = ("item", "tolist", "cpu", "numpy", "nonzero", "unique", "__bool__", "__int__", "__float__")
_TORCH_FUNCTIONS = ("nonzero", "unique", "masked_select", "repeat_interleave")


def launch(kernel, grid: tuple[int, ...], *args: Any, **meta: Any) -> None:
    """Launch a Triton ``kernel`` on ``grid``; host reads inside the launch (the interpreter's) are not counted."""
    depth = getattr(_state, "in_launch", 0)
    _state.in_launch = depth + 1
    try:
        kernel[grid](*args, **meta)
    finally:
        _state.in_launch = depth


class HostSyncCounter:
    """``with HostSyncCounter() as counter: ...`` then ``counter.total`` / ``counter.calls``
    (``Counter`` of ``"Tensor.item"``-style names)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self._originals: list[tuple[object, str, Callable]] = []

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def _wrap(self, owner: object, name: str, label: str) -> None:
        original = getattr(owner, name)
        counter = self

        def counted(*args, **kwargs):
            if not getattr(_state, "in_launch", 0) and not (name == "repeat_interleave" and "output_size" in kwargs):
                counter.calls[label] += 1
            return original(*args, **kwargs)

        self._originals.append((owner, name, original))
        setattr(owner, name, counted)

    def __enter__(self) -> "HostSyncCounter":
        for name in _TENSOR_METHODS:
            self._wrap(torch.Tensor, name, f"Tensor.{name}")
        for name in _TORCH_FUNCTIONS:
            self._wrap(torch, name, f"torch.{name}")
        return self

    def __exit__(self, *exc_info) -> None:
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals.clear()
