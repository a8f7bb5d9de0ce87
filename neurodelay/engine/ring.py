"""Ring buffers over delay slots, stored so that deliveries stay cheap and cache-local.

A ring holds ``[batch, R, size]`` values indexed by step modulo R (arrivals in the forward pass,
adjoint values in the backward pass). Two storage choices keep the cost per delivery independent
of R = D + 1:

- **block-major**: post neurons are grouped in blocks of ``block_size``; value ``(b, slot, j)``
  lives at ``((block(j) * batch + b) * 2R + slot) * block_size + j % block_size``, and the
  deliveries of a step are issued block by block (``[n_blocks, K, block_size]``), so that
  consecutive writes of one batch element stay inside ``2R * block_size`` values (50 KiB at
  R = 401 in float32) instead of spreading over the whole ring;
- **mirrored slots**: the storage has 2R slots. A spike at step n through delay d (0 <= d < R)
  goes to slot ``c + d`` with ``c = (n + 1) mod R`` (< 2R, no modulo per synapse); the forward pass
  reads step m as the sum of slots ``m mod R`` and ``m mod R + R``; the backward pass writes every
  value into both slots and reads ``c + d`` directly.

A synapse's flat position is then ``static[i, j] + (b * 2R + c) * block_size`` with the static
part ``neuron_offset[j] + d_ij * block_size`` computed once per pass.
"""
from __future__ import annotations

import torch


class BlockedRing:
    """``[batch, slots, size]`` values with the storage described in the module docstring."""

    def __init__(self, batch: int, slots: int, size: int, n_blocks: int, block_size: int,
                 *, device: torch.device, dtype: torch.dtype) -> None:
        self.batch, self.slots, self.size, self.n_blocks, self.block_size = batch, slots, size, n_blocks, block_size
        self.storage = torch.zeros(n_blocks, batch, 2 * slots, block_size, device=device, dtype=dtype)
        self.flat = self.storage.view(-1)
        # flat position of neuron j's column in batch element 0, slot 0: [n_blocks, 1, block_size]
        self.neuron_offset = (torch.arange(n_blocks, device=device)[:, None, None] * (batch * 2 * slots * block_size)
                              + torch.arange(block_size, device=device)[None, None, :])

    def _unblock(self, values: torch.Tensor) -> torch.Tensor:
        return values.permute(1, 0, 2).reshape(self.batch, -1)[:, : self.size]

    def take_arrivals(self, step: int) -> torch.Tensor:
        """Sum of everything delivered for ``step`` as ``[batch, size]``; the two slots are cleared."""
        slot = step % self.slots
        arrived = self._unblock(self.storage[:, :, slot, :] + self.storage[:, :, slot + self.slots, :])
        self.storage[:, :, slot, :] = 0
        self.storage[:, :, slot + self.slots, :] = 0
        return arrived

    def store(self, step: int, values: torch.Tensor) -> None:
        """Write ``values`` ``[batch, size]`` for ``step`` (into both mirrored slots)."""
        padded = torch.nn.functional.pad(values, (0, self.n_blocks * self.block_size - self.size))
        blocked = padded.view(self.batch, self.n_blocks, self.block_size).permute(1, 0, 2)
        slot = step % self.slots
        self.storage[:, :, slot, :] = blocked
        self.storage[:, :, slot + self.slots, :] = blocked

    def static_positions(self, delays_blocked: torch.Tensor) -> torch.Tensor:
        """``neuron_offset + d * block_size`` for block-major integer delays ``[n_blocks, n_pre, block]``."""
        return self.neuron_offset + delays_blocked * self.block_size

    def positions(self, step: int, batch_index: torch.Tensor, pre_index: torch.Tensor,
                  static: torch.Tensor) -> torch.Tensor:
        """Flat positions ``[n_blocks, K, block_size]`` of the synapses of K spikes ``(batch_index,
        pre_index)`` emitted at ``step``, for the step they arrive at (``step + 1 + d``)."""
        start = (step + 1) % self.slots
        return static.index_select(1, pre_index) + ((batch_index * (2 * self.slots) + start) * self.block_size)[None, :, None]

    def add_at(self, positions: torch.Tensor, values: torch.Tensor) -> None:
        """Add ``values`` at flat ``positions`` (same shape), in the order given (block-major)."""
        self.flat.index_add_(0, positions.reshape(-1), values.reshape(-1))

    def gather(self, positions: torch.Tensor) -> torch.Tensor:
        """Values at flat ``positions`` (same shape)."""
        return self.flat.index_select(0, positions.reshape(-1)).view(positions.shape)
