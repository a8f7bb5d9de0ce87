"""``DelayNetwork``: an IR network as a ``torch.nn.Module`` with trainable weights and delays."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Union

import numpy as np
import torch
from torch import nn

from ..ir import Network
from ..errors import ValidationError
from .function import EventPropFunction
from .layout import CompiledNetwork, compile_network, source_tensors

KERNELS = ("auto", "torch", "triton")

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

    kernels: ``"torch"`` (the reference engine, :mod:`neurodelay.engine.forward`), ``"triton"`` (the
    device path, :mod:`neurodelay.engine.device_pass`: on CUDA, or on CPU tensors through Triton's
    interpreter when ``TRITON_INTERPRET=1``), or ``"auto"``: triton on CUDA, torch elsewhere.
    """

    def __init__(
        self,
        network: Network,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype = torch.float32,
        kernels: str = "auto",
    ) -> None:
        super().__init__()
        if kernels not in KERNELS:
            raise ValidationError("kernels", repr(kernels), ", ".join(KERNELS))
        self.network = network
        self.kernels = kernels
        self.compiled = compile_network(network, device=device, dtype=dtype)
        self._plan = None
        device = self.compiled.device
        self.weights = nn.ParameterDict(
            {
                p.name: nn.Parameter(torch.as_tensor(p.weights, dtype=dtype, device=device).clone())
                for p in network.projections
            }
        )
        self.delays = nn.ParameterDict(
            {
                p.name: nn.Parameter(
                    torch.as_tensor(np.asarray(p.delays_steps, np.float64), dtype=dtype, device=device).clone()
                )
                for p in network.projections
            }
        )

    def _compiled_for_parameters(self):
        names = [p.name for p in self.network.projections]
        if names:
            reference = self.weights[names[0]]
            if reference.device != self.compiled.device or reference.dtype != self.compiled.dtype:
                self.compiled = compile_network(
                    self.network,
                    device=reference.device,
                    dtype=reference.dtype,
                    bucket_steps=self.compiled.bucket_steps,
                )
                self._plan = None
        return self.compiled

    def uses_device_path(self, compiled: CompiledNetwork | None = None) -> bool:
        """Whether :meth:`forward` runs the Triton device path (see ``kernels``)."""
        device = (compiled or self.compiled).device
        return self.kernels == "triton" or (self.kernels == "auto" and device.type == "cuda")

    def _device_plan(self, compiled: CompiledNetwork):
        from .device_plan import device_plan

        if self._plan is None or self._plan.compiled is not compiled:
            self._plan = device_plan(compiled)
        return self._plan

    def forward(self, inputs: EngineInputs) -> EngineOutput:
        """Simulate one batch; ``inputs`` ``[batch, steps, n_in]`` (or a mapping per spike source)."""
        compiled = self._compiled_for_parameters()
        device_path = self.uses_device_path(compiled)
        sources = source_tensors(compiled, inputs, torch.int8 if device_path else None)
        names = [c.name for c in compiled.connections]
        parameters = (*(self.weights[n] for n in names), *(self.delays[n] for n in names))
        if device_path:
            from .device_pass import DeviceEventPropFunction

            outputs = DeviceEventPropFunction.apply(self._device_plan(compiled), sources, *parameters)
        else:
            outputs = EventPropFunction.apply(compiled, sources, *parameters)
        readouts = compiled.readouts
        return EngineOutput(
            {g.name: o for g, o in zip(readouts, outputs[: len(readouts)])},
            {g.name: o for g, o in zip(compiled.spiking, outputs[len(readouts) :])},
        )

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
            projections.append(
                replace(projection, weights=weights, delays_steps=delays, integer_weights=None, weight_format=None)
            )
        return self.network.with_projections(projections)
