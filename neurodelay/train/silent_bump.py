"""The weight bump for silent hidden neurons, as the paper's experiment code does it.

A hidden neuron that fires no spike during a period (an epoch in the paper's code, over all its
training samples) gets a fixed amount added to every feed-forward input weight, so that it can
reach threshold again: EventProp gives a neuron that never spikes no gradient through its own
spikes, and without help it stays silent for good (docs/engine.md §E7).
"""
from __future__ import annotations

import torch

from .config import SilentNeuronBumpSpec


class SilentNeuronBump:
    """Counts each hidden layer's spikes over the current period and bumps the silent neurons.

    layers: ``{hidden population: feed-forward input projection}``; ``weights`` maps projection
    names to their ``[n_pre, n_post]`` weight parameters. Absent synapses (zero-masked) are re-masked
    by the caller's ``clamp_delays_`` after each bump.
    """

    def __init__(self, spec: SilentNeuronBumpSpec, layers: dict[str, str], sizes: dict[str, int],
                 weights: torch.nn.ParameterDict) -> None:
        self.spec = spec
        self.layers = dict(layers)
        self.weights = weights
        self.counts = {name: torch.zeros(sizes[name], dtype=torch.float64) for name in self.layers}

    def observe(self, spike_counts: dict[str, torch.Tensor]) -> None:
        """Add one (local) batch's spike counts ``{population: [batch, n]}`` to the period's totals."""
        for name in self.layers:
            self.counts[name] += spike_counts[name].detach().sum(0).to("cpu", torch.float64)

    @torch.no_grad()
    def apply(self, sum_over_ranks) -> dict[str, int]:
        """Bump the neurons silent over the period (counts summed over ranks with ``sum_over_ranks``,
        a function of one tensor); start a new period; return the number bumped per population."""
        bumped = {}
        for name, projection in self.layers.items():
            counts = self.counts[name]
            device = self.weights[projection].device
            total = sum_over_ranks(counts.to(device)).cpu()
            silent = total == 0
            bumped[name] = int(silent.sum())
            if bumped[name]:
                weights = self.weights[projection]
                weights[:, silent.to(weights.device)] += self.spec.amount
            counts.zero_()
        return bumped
