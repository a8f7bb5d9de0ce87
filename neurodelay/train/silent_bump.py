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

    def __init__(
        self, spec: SilentNeuronBumpSpec, layers: dict[str, str], sizes: dict[str, int], weights: torch.nn.ParameterDict
    ) -> None:
        self.spec = spec
        self.layers = dict(layers)
        self.weights = weights
        # on the weights' device, so that neither counting nor bumping makes the host wait for a GPU
        self.counts = {
            name: torch.zeros(sizes[name], dtype=torch.float64, device=weights[layers[name]].device)
            for name in self.layers
        }

    def observe(self, spike_counts: dict[str, torch.Tensor]) -> None:
        """Add one (local) batch's spike counts ``{population: [batch, n]}`` to the period's totals."""
        for name in self.layers:
            self.counts[name] += spike_counts[name].detach().sum(0).to(self.counts[name].device, torch.float64)

    @torch.no_grad()
    def apply(self, sum_over_ranks) -> dict[str, torch.Tensor]:
        """Bump the neurons silent over the period (counts summed over ranks with ``sum_over_ranks``,
        a function of one tensor); start a new period; return the number bumped per population as
        0-d tensors on the device."""
        bumped = {}
        for name, projection in self.layers.items():
            weights = self.weights[projection]
            silent = sum_over_ranks(self.counts[name].to(weights.device)) == 0
            bumped[name] = silent.sum()
            weights.add_(silent.to(weights.dtype)[None, :] * self.spec.amount)  # + 0 where not silent
            self.counts[name].zero_()
        return bumped
