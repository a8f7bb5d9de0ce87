"""Best-epoch tracking and early stopping on a per-epoch metric (config ``early_stopping``).

The tracker keeps the best epoch's model parameters in memory and in the checkpoint, so a run
resumed after any interruption stops at the same epoch and restores the same parameters as an
uninterrupted run.
"""

from __future__ import annotations

from typing import Any

import torch

from .config import EarlyStoppingSpec


class BestEpochTracker:
    """Follows ``spec.metric`` over epochs (records as written to ``metrics.json``)."""

    def __init__(self, spec: EarlyStoppingSpec) -> None:
        self.spec = spec
        self.best_epoch: int | None = None  # 1-based, as in the metric records
        self.best_value: float | None = None
        self.best_parameters: dict[str, torch.Tensor] | None = None

    def improves(self, value: float) -> bool:
        if self.best_value is None:
            return True
        margin = value - self.best_value if self.spec.maximise else self.best_value - value
        return margin > self.spec.min_delta

    def update(self, record: dict[str, Any], model: torch.nn.Module) -> bool:
        """Consider the epoch of ``record``; keep ``model``'s parameters if it is the best so far.
        Returns True when it is."""
        value = float(record[self.spec.metric])
        if not self.improves(value):
            return False
        self.best_epoch, self.best_value = int(record["epoch"]), value
        self.best_parameters = {key: tensor.detach().clone() for key, tensor in model.state_dict().items()}
        return True

    def should_stop(self, completed_epochs: int) -> bool:
        """True once ``patience`` epochs have passed without an improvement."""
        return (
            self.spec.patience is not None
            and self.best_epoch is not None
            and completed_epochs - self.best_epoch >= self.spec.patience
        )

    def restore_best(self, model: torch.nn.Module) -> bool:
        """Load the best epoch's parameters into ``model`` if ``restore_best`` is set (True if done)."""
        if not self.spec.restore_best or self.best_parameters is None:
            return False
        model.load_state_dict(self.best_parameters)
        return True

    def state_dict(self) -> dict[str, Any]:
        return {
            "epoch": self.best_epoch,
            "value": self.best_value,
            "parameters": None
            if self.best_parameters is None
            else {key: tensor.cpu() for key, tensor in self.best_parameters.items()},
        }

    def load_state_dict(self, state: dict[str, Any], device: torch.device) -> None:
        self.best_epoch, self.best_value = state["epoch"], state["value"]
        parameters = state["parameters"]
        self.best_parameters = (
            None if parameters is None else {key: tensor.to(device) for key, tensor in parameters.items()}
        )
