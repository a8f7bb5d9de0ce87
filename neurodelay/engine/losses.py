"""Losses on readout voltage traces and the spike-count regulariser (docs/engine.md §E5).

Every loss is ``f(readout_trace [batch, steps, n], labels [batch] int64) -> scalar``: softmax
cross-entropy (mean over the batch) of a per-neuron readout value r computed from the trace.
Written in torch, so the engine's adjoint receives dL/dV as its source term.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ..errors import ValidationError

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def exp_weighted_average(trace: torch.Tensor) -> torch.Tensor:
    """mlGeNN's ``avg_var_exp_weight``: r = (1/N) sum_n exp(-n/N) V[n] over N steps; ``[batch, n]``."""
    steps = trace.shape[1]
    weights = torch.exp(-torch.arange(steps, device=trace.device, dtype=trace.dtype) / steps) / steps
    return torch.einsum("btn,t->bn", trace, weights)


def voltage_sum(trace: torch.Tensor) -> torch.Tensor:
    """mlGeNN's ``sum_var``: r = sum_n V[n]; ``[batch, n]``."""
    return trace.sum(1)


def voltage_max(trace: torch.Tensor) -> torch.Tensor:
    """mlGeNN's ``max_var``: r = max_n V[n] (the gradient flows to the argmax step); ``[batch, n]``."""
    return trace.max(1).values


READOUTS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "exp_weighted_ce": exp_weighted_average,
    "sum_ce": voltage_sum,
    "max_ce": voltage_max,
}


def make_loss(name: str, **options) -> Loss:
    """The cross-entropy loss ``name`` (``exp_weighted_ce``, ``sum_ce``, ``max_ce``).

    options: ``temperature`` (> 0, default 1): r is divided by it before the softmax.
    """
    if name not in READOUTS:
        raise ValidationError("loss", f"unknown loss {name!r}", ", ".join(READOUTS))
    unknown = set(options) - {"temperature"}
    if unknown:
        raise ValidationError("loss options", f"unknown options {sorted(unknown)}", "temperature")
    temperature = float(options.get("temperature", 1.0))
    if not math.isfinite(temperature) or temperature <= 0:
        raise ValidationError("loss options.temperature", f"{temperature}", "a finite number > 0")
    readout = READOUTS[name]

    def loss(trace: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        labels = torch.as_tensor(labels, device=trace.device, dtype=torch.int64)
        if labels.shape != trace.shape[:1]:
            raise ValidationError("labels", f"shape {list(labels.shape)}", f"[{trace.shape[0]}] (one per trial)")
        if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= trace.shape[2]):
            raise ValidationError(
                "labels",
                f"values in [{int(labels.min())}, {int(labels.max())}]",
                f"class indices in [0, {trace.shape[2] - 1}]",
            )
        return F.cross_entropy(readout(trace) / temperature, labels)

    loss.__name__ = name
    return loss


def spike_count_regularizer(
    counts: torch.Tensor | dict[str, torch.Tensor], target_per_neuron: float, strength: float
) -> torch.Tensor:
    """``strength / (2 B^2) * sum_j (C_j - target * B)^2`` with ``C_j`` neuron j's spikes summed over
    the batch of B trials, summed over populations when ``counts`` is a mapping.

    Its gradient per trial is ``strength / B^2 * (C_j - target * B)``, which the engine injects at
    every spike of neuron j: the mlGeNN regulariser (too many spikes -> fewer, too few -> more).
    counts: ``[batch, n]`` spike counts per trial (``EngineOutput.spike_counts``).
    """
    if isinstance(counts, dict):
        terms = [spike_count_regularizer(c, target_per_neuron, strength) for c in counts.values()]
        return torch.stack(terms).sum() if terms else torch.zeros(())
    batch = counts.shape[0]
    excess = counts.sum(0) - target_per_neuron * batch
    return strength / (2.0 * batch * batch) * (excess * excess).sum()
