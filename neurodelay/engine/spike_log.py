"""Every spike of one population in one pass, stored flat in step order.

Spike s (an integer id) is ``(batch_index[s], neuron_index[s])``; the spikes of step k have the ids
``offsets[k] ... offsets[k + 1] - 1``, in the order ``torch.nonzero`` returns them (batch-major).
The forward pass appends one step at a time; the backward pass reads the finished log.
"""

from __future__ import annotations

import torch


def ragged_arange(starts: torch.Tensor, counts: torch.Tensor, total: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Concatenated ``arange(starts[k], starts[k] + counts[k])`` over k, and for each element its k.

    starts, counts: ``[K]`` int64; total: ``counts.sum()`` (given, so that CUDA need not sync).
    Returns ``(values [total], owner [total])``.
    """
    owner = torch.repeat_interleave(torch.arange(len(counts), device=counts.device), counts, output_size=total)
    shift = starts - (torch.cumsum(counts, 0) - counts)
    return torch.arange(total, device=counts.device) + shift.index_select(0, owner), owner


class SpikeLog:
    """Append-only flat record of ``(batch_index, neuron_index)`` per spike, with step offsets."""

    def __init__(self, device: torch.device, capacity: int = 4096) -> None:
        self._batch = torch.empty(capacity, dtype=torch.int64, device=device)
        self._neuron = torch.empty(capacity, dtype=torch.int64, device=device)
        self.offsets: list[int] = [0]
        self.device = device

    @classmethod
    def from_dense(cls, spikes: torch.Tensor) -> "SpikeLog":
        """The log of a ``[batch, steps, n]`` 0/1 tensor (a spike source's whole input)."""
        batch, steps, _ = spikes.shape
        step_index, batch_index, neuron_index = torch.nonzero(spikes.permute(1, 0, 2), as_tuple=True)
        log = cls(spikes.device, capacity=0)
        log._batch, log._neuron = batch_index, neuron_index
        log.offsets += torch.cumsum(torch.bincount(step_index, minlength=steps), 0).tolist()
        return log

    @property
    def steps(self) -> int:
        return len(self.offsets) - 1

    @property
    def total(self) -> int:
        return self.offsets[-1]

    @property
    def batch_index(self) -> torch.Tensor:
        return self._batch[: self.total]

    @property
    def neuron_index(self) -> torch.Tensor:
        return self._neuron[: self.total]

    def count(self, step: int) -> int:
        return self.offsets[step + 1] - self.offsets[step]

    def at(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(batch_index [K], neuron_index [K])`` of the K spikes of ``step``."""
        start, end = self.offsets[step], self.offsets[step + 1]
        return self._batch[start:end], self._neuron[start:end]

    def append(self, batch_index: torch.Tensor, neuron_index: torch.Tensor) -> None:
        """Record the spikes of the next step (``[K]`` each, K may be 0)."""
        start = self.total
        end = start + batch_index.numel()
        if end > self._batch.numel():
            capacity = max(2 * self._batch.numel(), end, 1024)
            for name in ("_batch", "_neuron"):
                grown = torch.empty(capacity, dtype=torch.int64, device=self.device)
                grown[:start] = getattr(self, name)[:start]
                setattr(self, name, grown)
        self._batch[start:end] = batch_index
        self._neuron[start:end] = neuron_index
        self.offsets.append(end)
