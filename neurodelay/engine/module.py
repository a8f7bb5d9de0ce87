"""``DelayNetwork``: an IR network as a ``torch.nn.Module`` with trainable weights and delays."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Union

import numpy as np
import torch
from torch import nn

from ..ir import Network
from .function import EventPropFunction
from .layout import compile_network, source_tensors

EngineInputs = Union[torch.Tensor, np.ndarray, Mapping[str, Union[torch.Tensor, np.ndarray]]]
"""Spike inputs: one ``[batch, steps, n_in]`` 0/1 tensor (single source) or ``{source: tensor}``."""


@dataclass
class EngineOutput:
    """readout: ``{leaky-integrator population: V [batch, steps, n]}`` (network voltage units);
    spike_counts: ``{LIF population: [batch, n]}`` spikes per trial (float, differentiable)."""

    readout: dict[str, torch.Tensor]
    spike_counts: dict[str, torch.Tensor]


class DelayNetwork(nn.Module):
    """A network with learnable weights and delays, trained by EventProp with delays.

    weights: ``{projection: [n_pre, n_post]}`` parameters (network current units per spike).
    delays: ``{projection: [n_pre, n_post]}`` float parameters in timesteps of ``network.dt_ms``;
        the forward pass uses ``floor(d + 0.5)`` clamped to ``[0, max_delay_steps]``; their
        gradient is per timestep of delay. Call :meth:`clamp_delays_` after each optimiser step.

    Absent synapses (masked) never deliver and get zero gradient. LIF populations with
    ``refractory_steps > 0`` are rejected with a :class:`~neurodelay.errors.ValidationError`.
    Moving the module (``.to``) is supported: the static tensors follow the parameters.
    """

    def __init__(self, network: Network, *, device: torch.device | str | None = None,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.network = network
        self.compiled = compile_network(network, device=device, dtype=dtype)
        device = self.compiled.device
        self.weights = nn.ParameterDict({
            p.name: nn.Parameter(torch.as_tensor(p.weights, dtype=dtype, device=device).clone())
            for p in network.projections})
        self.delays = nn.ParameterDict({
            p.name: nn.Parameter(torch.as_tensor(np.asarray(p.delays_steps, np.float64), dtype=dtype,
                                                 device=device).clone())
            for p in network.projections})

    def _compiled_for_parameters(self):
        names = [p.name for p in self.network.projections]
        if names:
            reference = self.weights[names[0]]
            if reference.device != self.compiled.device or reference.dtype != self.compiled.dtype:
                self.compiled = compile_network(self.network, device=reference.device, dtype=reference.dtype,
                                                bucket_steps=self.compiled.bucket_steps)
        return self.compiled

    def forward(self, inputs: EngineInputs) -> EngineOutput:
        """Simulate one batch; ``inputs`` ``[batch, steps, n_in]`` (or a mapping per spike source)."""
        compiled = self._compiled_for_parameters()
        sources = source_tensors(compiled, inputs)
        names = [c.name for c in compiled.connections]
        outputs = EventPropFunction.apply(compiled, sources, *(self.weights[n] for n in names),
                                          *(self.delays[n] for n in names))
        readouts = compiled.readouts
        return EngineOutput({g.name: o for g, o in zip(readouts, outputs[: len(readouts)])},
                            {g.name: o for g, o in zip(compiled.spiking, outputs[len(readouts):])})

    @torch.no_grad()
    def clamp_delays_(self) -> None:
        """Clamp every delay to ``[0, max_delay_steps]`` and keep absent synapses at 0 (in place)."""
        for connection in self._compiled_for_parameters().connections:
            delays = self.delays[connection.name]
            delays.clamp_(0.0, float(connection.max_delay_steps))
            if connection.mask is not None:
                delays.masked_fill_(~connection.mask, 0.0)
                self.weights[connection.name].masked_fill_(~connection.mask, 0.0)

    @torch.no_grad()
    def to_network(self) -> Network:
        """The IR network with the trained float weights and delays (provenance kept).

        Quantized fields (``integer_weights``, ``weight_format``) are dropped, since the trained
        float values no longer match them.
        """
        projections = []
        for projection in self.network.projections:
            weights = self.weights[projection.name].detach().cpu().double().numpy().copy()
            delays = self.delays[projection.name].detach().cpu().double().numpy().copy()
            projections.append(replace(projection, weights=weights, delays_steps=delays,
                                       integer_weights=None, weight_format=None))
        return self.network.with_projections(projections)
