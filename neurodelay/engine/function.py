"""The engine as a ``torch.autograd.Function``: forward simulation, adjoint backward.

Outputs are the readout voltage traces and the hidden spike counts, so any loss written in torch on
them composes: the gradient arriving at a trace is the adjoint's source term, and the gradient
arriving at a spike count is injected at every spike of that neuron (the spike-count regulariser
of Mészáros, Knight & Nowotny 2025; docs/engine.md §E5).
"""

from __future__ import annotations

import torch

from .adjoint import adjoint
from .forward import simulate
from .layout import CompiledNetwork


class EventPropFunction(torch.autograd.Function):
    """``apply(compiled, sources, *weights, *delays) -> (*readout_traces, *spike_counts)``.

    weights / delays: one ``[n_pre, n_post]`` tensor per projection, in ``compiled.connections``
    order (delays float, in steps). Outputs: one ``[batch, steps, n]`` voltage trace per
    leaky-integrator population, then one ``[batch, n]`` spike count per LIF population, in
    ``compiled.groups`` order.
    """

    @staticmethod
    def forward(ctx, compiled: CompiledNetwork, sources: dict[str, torch.Tensor], *parameters: torch.Tensor):
        names = [c.name for c in compiled.connections]
        weights = dict(zip(names, parameters[: len(names)]))
        delays = dict(zip(names, parameters[len(names) :]))
        tape = simulate(compiled, sources, weights, delays)
        ctx.compiled, ctx.tape = compiled, tape
        return (
            *(tape.readout[g.name] for g in compiled.readouts),
            *(tape.spike_counts[g.name] for g in compiled.spiking),
        )

    @staticmethod
    def backward(ctx, *output_grads: torch.Tensor):
        compiled = ctx.compiled
        readouts, spiking = compiled.readouts, compiled.spiking
        readout_grads = {g.name: grad for g, grad in zip(readouts, output_grads[: len(readouts)])}
        count_grads = {g.name: grad for g, grad in zip(spiking, output_grads[len(readouts) :])}
        weight_grads, delay_grads = adjoint(compiled, ctx.tape, readout_grads, count_grads)
        ctx.tape = None
        names = [c.name for c in compiled.connections]
        return (None, None, *(weight_grads[n] for n in names), *(delay_grads[n] for n in names))
