"""A small ring buffer over the next ``S`` steps of one population, with mirrored slots.

The ring holds ``[batch, S, size]`` values indexed by step modulo S (arrivals in the forward pass,
adjoint values in the backward pass); S is the population's *bucket width* (see
:mod:`neurodelay.engine.buckets`), at most 32 steps by default whatever the maximum delay, so the
whole ring stays in the processor's caches. Storage is ``[batch, 2S, size]``: a value for step m
lives in slot ``m mod S`` and its mirror ``m mod S + S``, so that the values of steps
``n + 1 ... n + S`` are the slots ``c + r`` (``c = (n + 1) mod S``, ``0 <= r < S``) without a modulo
per synapse:

- forward: a delivery for step ``n + 1 + r`` is added to slot ``c + r``; step m is read as the sum of
  its two slots, which are then cleared;
- backward: every step's values are written into both slots and read back at ``c + r``.

A value's flat position is ``(b * 2S + c) * size + (r * size + j)``: the second part is static per
synapse (the ring offsets of :class:`~neurodelay.engine.buckets.BucketTable`).
"""

from __future__ import annotations

import torch


class MirroredRing:
    """``[batch, slots, size]`` values stored as described in the module docstring."""

    def __init__(self, batch: int, slots: int, size: int, *, device: torch.device, dtype: torch.dtype) -> None:
        self.batch, self.slots, self.size = batch, slots, size
        if batch * 2 * slots * size >= 2**31:
            raise ValueError(f"ring of {batch} x {2 * slots} x {size} values exceeds int32 positions")
        self.storage = torch.zeros(batch, 2 * slots, size, device=device, dtype=dtype)
        self.flat = self.storage.view(-1)

    def take_arrivals(self, step: int) -> torch.Tensor:
        """Sum of everything delivered for ``step`` as ``[batch, size]``; both slots are cleared."""
        slot = step % self.slots
        arrived = self.storage[:, slot] + self.storage[:, slot + self.slots]
        self.storage[:, slot] = 0
        self.storage[:, slot + self.slots] = 0
        return arrived

    def store(self, step: int, values: torch.Tensor) -> None:
        """Write ``values`` ``[batch, size]`` for ``step`` (into both slots)."""
        slot = step % self.slots
        self.storage[:, slot] = values
        self.storage[:, slot + self.slots] = values

    def base_positions(self, step: int, batch_index: torch.Tensor) -> torch.Tensor:
        """Flat position ``[K, 1]`` (int32) of slot ``c = (step + 1) mod S``, neuron 0, for each batch index:
        add a synapse's ``r * size + j`` to address its value for step ``step + 1 + r``."""
        start = (step + 1) % self.slots
        return ((batch_index * (2 * self.slots) + start) * self.size).to(torch.int32)[:, None]

    def add_at(self, positions: torch.Tensor, values: torch.Tensor) -> None:
        """Add ``values`` at flat ``positions`` (same shape), in the order given."""
        self.flat.index_add_(0, positions.reshape(-1), values.reshape(-1))

    def gather(self, positions: torch.Tensor) -> torch.Tensor:
        """Values at flat ``positions`` (same shape)."""
        return self.flat.index_select(0, positions.reshape(-1)).view(positions.shape)
