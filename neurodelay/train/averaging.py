"""Weight averaging over the last epochs of a run (config ``weight_averaging``): stochastic weight
averaging (Izmailov et al., "Averaging weights leads to wider optima and better generalization",
UAI 2018) on the epoch-end parameters of the learning-rate schedule's tail: those each epoch's checkpoint
holds (after the epoch's silent-neuron bump, the parameters training goes on from).

The average of weights and delays (float delays, in timesteps; the forward pass rounds the mean)
is kept as a running sum in the run's dtype on its device and in every checkpoint, so that a
resumed run writes the same network as an uninterrupted one.
"""

from __future__ import annotations

from typing import Any

import torch

from ..errors import NeurodelayError
from .config import WeightAveragingSpec


class ParameterAverage:
    """Mean of a model's ``state_dict`` tensors at the end of epochs ``first_epoch .. epochs`` (from 1)."""

    def __init__(self, spec: WeightAveragingSpec, epochs: int) -> None:
        self.spec = spec
        self.first_epoch = max(1, epochs - spec.epochs + 1)
        self.last_epoch = epochs
        self.averaged_epochs: list[int] = []
        self.sums: dict[str, torch.Tensor] | None = None

    def observe(self, epoch: int, model: torch.nn.Module) -> None:
        """Add ``model``'s parameters at the end of ``epoch`` (from 1) if it lies in the window."""
        if epoch < self.first_epoch:
            return
        state = model.state_dict()
        if self.sums is None:
            self.sums = {key: tensor.detach().clone() for key, tensor in state.items()}
        else:
            for key, tensor in state.items():
                self.sums[key] += tensor.detach()
        self.averaged_epochs.append(epoch)

    def load_into(self, model: torch.nn.Module) -> bool:
        """Put the mean into ``model`` (True), or leave it alone when nothing was averaged (False)."""
        if self.sums is None:
            return False
        count = len(self.averaged_epochs)
        model.load_state_dict({key: total / count for key, total in self.sums.items()})
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "epochs": list(self.averaged_epochs),
            "sums": None if self.sums is None else {key: tensor.cpu() for key, tensor in self.sums.items()},
        }

    def load_state_dict(self, state: dict[str, Any], completed_epochs: int, device: torch.device) -> None:
        """Restore the running sum of a checkpoint taken after ``completed_epochs``; it must hold
        exactly the window's epochs up to there (a resumed run with more ``epochs`` moves the window)."""
        expected = list(range(self.first_epoch, completed_epochs + 1))
        if list(state["epochs"]) != expected:
            raise NeurodelayError(
                f"the checkpoint averaged the parameters of epochs {_span(state['epochs'])}, but with "
                f"{self.last_epoch} epochs weight_averaging.epochs={self.spec.epochs} needs epochs "
                f"{_span(expected)} by epoch {completed_epochs}: resume with the epochs the run started "
                "with, or train the longer run from the start"
            )
        self.averaged_epochs = list(state["epochs"])
        sums = state["sums"]
        self.sums = None if sums is None else {key: tensor.to(device) for key, tensor in sums.items()}


def _span(epochs: list[int]) -> str:
    return "none" if not epochs else f"{epochs[0]}-{epochs[-1]}" if len(epochs) > 1 else str(epochs[0])
