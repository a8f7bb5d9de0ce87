"""Ring buffers over delay slots, stored block-major so that deliveries stay within the cache.

A ring holds ``[batch, slots, size]`` values (arrivals in the forward pass, adjoint values in the
backward pass); value ``(b, slot, j)`` lives at flat position
``((block(j) * batch + b) * slots + slot) * block_size + j % block_size``. Deliveries of one spike
are issued block by block (see :func:`synapse_positions`), so that consecutive writes (and reads)
of one batch element stay inside ``slots * block_size`` values (25 KiB at 400 slots in float32):
the cost per delivery does not grow with the ring's length.
"""
from __future__ import annotations

import torch


class BlockedRing:
    """``[batch, slots, size]`` values with the block-major storage described in the module docstring."""

    def __init__(self, batch: int, slots: int, size: int, n_blocks: int, block_size: int,
                 *, device: torch.device, dtype: torch.dtype) -> None:
        self.batch, self.slots, self.size, self.block_size = batch, slots, size, block_size
        self.storage = torch.zeros(n_blocks, batch, slots, block_size, device=device, dtype=dtype)
        self.flat = self.storage.view(-1)
        # flat offset of neuron j's column in batch element 0, slot 0: [n_blocks, 1, block_size]
        self.neuron_offset = (torch.arange(n_blocks, device=device)[:, None, None] * (batch * slots * block_size)
                              + torch.arange(block_size, device=device)[None, None, :])

    def read(self, slot: int) -> torch.Tensor:
        """The values of ``slot`` as ``[batch, size]`` (a copy)."""
        return self.storage[:, :, slot, :].permute(1, 0, 2).reshape(self.batch, -1)[:, : self.size]

    def clear(self, slot: int) -> None:
        self.storage[:, :, slot, :] = 0

    def write(self, slot: int, values: torch.Tensor) -> None:
        """Overwrite ``slot`` with ``values`` ``[batch, size]``."""
        n_blocks = self.storage.shape[0]
        padded = torch.nn.functional.pad(values, (0, n_blocks * self.block_size - self.size))
        self.storage[:, :, slot, :] = padded.view(self.batch, n_blocks, self.block_size).permute(1, 0, 2)

    def positions(self, batch_index: torch.Tensor, slots: torch.Tensor) -> torch.Tensor:
        """Flat positions ``[n_blocks, K, block_size]`` of K events (batch ``batch_index`` [K]) at
        block-major ``slots`` ``[n_blocks, K, block_size]``."""
        return self.neuron_offset + (batch_index[None, :, None] * self.slots + slots) * self.block_size

    def add_at(self, positions: torch.Tensor, values: torch.Tensor) -> None:
        """Add ``values`` at flat ``positions`` (same shape), in the order given (block-major)."""
        self.flat.index_add_(0, positions.reshape(-1), values.reshape(-1))

    def gather(self, positions: torch.Tensor) -> torch.Tensor:
        """Values at flat ``positions`` (same shape)."""
        return self.flat.take(positions)


def synapse_positions(ring: BlockedRing, step: int, batch_index: torch.Tensor, pre_index: torch.Tensor,
                      delays_blocked: torch.Tensor) -> torch.Tensor:
    """Flat ring positions ``[n_blocks, K, block_size]`` where spikes ``(batch_index, pre_index)``
    emitted at ``step`` arrive: slot ``(step + 1 + d) mod R`` with ``d`` the integer delay of each
    synapse (``delays_blocked`` ``[n_blocks, n_pre, block_size]``, int64)."""
    slots = torch.remainder(delays_blocked.index_select(1, pre_index) + (step + 1), ring.slots)
    return ring.positions(batch_index, slots)
