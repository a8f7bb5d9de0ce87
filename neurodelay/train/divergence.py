"""Stops a training run whose loss or parameters stop being finite (NaN or infinity).

A learning rate far too large, or initial weights far too large, make the loss or the weights and
delays overflow within a few batches; training on would only write NaN into the checkpoint and the
network. :class:`DivergenceMonitor` watches the global batch loss and every trained parameter after
each optimiser step (a NaN or infinite gradient shows there: Adam turns it into a NaN step).

On CPU each batch is checked at once. On CUDA the check stays on the device (a few small kernels
per batch, no host read): the first failing batch of the epoch is recorded in a device tensor and
read once, at the end of the epoch, before anything of that epoch is evaluated or saved. Either
way the run ends with :class:`TrainingDiverged` naming the epoch and the batch (both counted from
1), and the last checkpoint, made after the last good epoch, stays as it was.
"""

from __future__ import annotations

import math

import torch

from ..errors import NeurodelayError


class TrainingDiverged(NeurodelayError):
    """The loss or a trained parameter became NaN or infinite (the message says where and what)."""


class DivergenceMonitor:
    """Finds the first batch after which the loss or a trained parameter is not finite.

    parameters: ``{name: tensor}`` of the trained parameters (e.g. ``"input_hidden.weights"``),
    checked after every optimiser step.
    """

    def __init__(self, parameters: dict[str, torch.Tensor], device: torch.device) -> None:
        self.parameters = parameters
        self.device = device
        self.immediate = device.type != "cuda"  # a host read per batch costs nothing off the GPU
        self._epoch = 0
        self._first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        self._loss_then = torch.zeros((), dtype=torch.float64, device=device)

    def start_epoch(self, epoch: int) -> None:
        """Forget the previous epoch's record; ``epoch`` counts from 0."""
        self._epoch = epoch
        self._first_bad.fill_(-1)

    def observe(self, batch_index: int, loss: torch.Tensor) -> None:
        """Check batch ``batch_index`` (from 0) of the epoch after its step: its global ``loss``
        (0-d tensor) and the parameters as they are now."""
        finite = torch.isfinite(loss.detach())
        for tensor in self.parameters.values():
            finite = finite & torch.isfinite(tensor.detach()).all()
        if self.immediate:
            if not bool(finite):
                raise self._error(batch_index, float(loss))
            return
        first = (self._first_bad < 0) & ~finite
        self._first_bad = torch.where(first, torch.full_like(self._first_bad, batch_index), self._first_bad)
        self._loss_then = torch.where(first, loss.detach().double(), self._loss_then)

    def check_epoch(self) -> None:
        """Raise if any batch of the epoch diverged (reads one value from the device)."""
        batch_index = int(self._first_bad)
        if batch_index >= 0:
            raise self._error(batch_index, float(self._loss_then))

    def _error(self, batch_index: int, loss: float) -> TrainingDiverged:
        bad = [name for name, tensor in self.parameters.items() if not bool(torch.isfinite(tensor.detach()).all())]
        what = [f"loss is {loss}" if not math.isfinite(loss) else f"loss {loss:.4g}"]
        if bad:
            shown = ", ".join(bad[:4]) + (f" and {len(bad) - 4} more" if len(bad) > 4 else "")
            what.append(f"NaN or infinite values in {shown}")
        kept = f"epoch {self._epoch}" if self._epoch else "none: it diverged in the first epoch"
        return TrainingDiverged(
            f"training: diverged in epoch {self._epoch + 1}, batch {batch_index + 1} ({'; '.join(what)}); "
            "hint: lower the learning rate (optimiser.weight_lr, optimiser.delay_lr) or the initial weights, "
            "or check the config's other scales (time constants, loss temperature, regularizer strength); "
            f"nothing of this epoch was saved (last checkpoint: {kept})"
        )
