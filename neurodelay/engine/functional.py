"""Functional API on IR networks and numpy arrays: ``loss`` and ``loss_and_gradients`` (float64)."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import ValidationError
from ..ir import Network
from .losses import make_loss
from .module import DelayNetwork

Gradients = dict[str, dict[str, np.ndarray]]
"""``{projection: {"weights": [n_pre, n_post], "delays": [n_pre, n_post]}}`` float64; delay
gradients are per timestep of delay."""


def _labels(labels, batch: int) -> torch.Tensor:
    labels = np.asarray(labels)
    if labels.shape != (batch,) or labels.dtype.kind not in "iu":
        raise ValidationError(
            "labels", f"shape {list(labels.shape)} dtype {labels.dtype}", f"[{batch}] integer class indices"
        )
    return torch.as_tensor(labels, dtype=torch.int64)


def _readout(module: DelayNetwork, output) -> torch.Tensor:
    if len(output.readout) != 1:
        raise ValidationError(
            "network.populations",
            f"{len(output.readout)} leaky-integrator readouts",
            "exactly one leaky-integrator population for the functional API",
        )
    return next(iter(output.readout.values()))


def _evaluate(net: Network, inputs, labels, loss: str, **options) -> tuple[torch.Tensor, DelayNetwork]:
    module = DelayNetwork(net, dtype=torch.float64)
    inputs = np.asarray(inputs) if not isinstance(inputs, dict) else inputs
    output = module(inputs)
    trace = _readout(module, output)
    value = make_loss(loss, **options)(trace, _labels(labels, trace.shape[0]))
    return value, module


def loss(net: Network, inputs, labels, *, loss: str = "exp_weighted_ce", **options) -> float:
    """The loss of ``net`` on ``inputs`` (0/1 ``[batch, steps, n_in]``) with ``labels`` ``[batch]``."""
    with torch.no_grad():
        value, _ = _evaluate(net, inputs, labels, loss, **options)
    return float(value)


def loss_and_gradients(
    net: Network, inputs, labels, *, loss: str = "exp_weighted_ce", **options
) -> tuple[float, Gradients]:
    """The loss and its EventProp gradients w.r.t. every projection's weights and delays."""
    value, module = _evaluate(net, inputs, labels, loss, **options)
    value.backward()
    gradients = {
        name: {
            "weights": module.weights[name].grad.detach().numpy().copy(),
            "delays": module.delays[name].grad.detach().numpy().copy(),
        }
        for name in module.weights
    }
    return float(value.detach()), gradients
