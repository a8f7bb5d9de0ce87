"""Class scores from readout voltage traces, the same readout each loss is built on."""
from __future__ import annotations

import torch


def class_scores(loss_name: str, trace: torch.Tensor) -> torch.Tensor:
    """``[batch, n_classes]`` scores whose argmax is the predicted class.

    trace: readout voltages ``[batch, steps, n_classes]``. ``max_ce``: the maximum over time;
    ``sum_ce``: the sum over time; ``exp_weighted_ce``: ``(1/N) sum_n exp(-n/N) V[n]`` (N steps).
    """
    if loss_name == "max_ce":
        return trace.amax(dim=1)
    if loss_name == "sum_ce":
        return trace.sum(dim=1)
    if loss_name == "exp_weighted_ce":
        steps = trace.shape[1]
        weights = torch.exp(-torch.arange(steps, device=trace.device, dtype=trace.dtype) / steps) / steps
        return torch.einsum("btn,t->bn", trace, weights)
    raise ValueError(f"no readout for loss {loss_name!r}")
