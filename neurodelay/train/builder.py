"""Turn a config's network section into an initial IR :class:`~neurodelay.ir.Network`."""

from __future__ import annotations

import numpy as np

from ..ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from ..limits import check_memory
from .config import NetworkSpec, ProjectionSpec

INPUT_NAME = "input"
SYNAPSE_BYTES = 64
"""Bytes a trained synapse needs at least: float64 weight and delay as drawn, and in float32 the
weight and delay parameters, their gradients and two Adam moments each."""


def projection_name(pre: str, post: str) -> str:
    return f"{pre}_{post}"


def build_network(spec: NetworkSpec, *, n_inputs: int, n_classes: int, seed: int, path: str = "network") -> Network:
    """The initial network: ``input`` (n_inputs sources) -> hidden LIF layers -> readout (n_classes).

    Weights and delays are drawn from ``np.random.default_rng(seed)`` projection by projection in
    declaration order (feed-forward before recurrent within a layer). Per-projection training
    flags go into the projection's metadata (``learn_weights``, ``learn_delays``).
    """
    sizes = [n_inputs] + [layer.size for layer in spec.hidden] + [n_classes]
    synapses = sum(float(a) * b for a, b in zip(sizes, sizes[1:]))
    synapses += sum(float(layer.size) ** 2 for layer in spec.hidden if layer.recurrent is not None)
    check_memory(
        path,
        SYNAPSE_BYTES * synapses,
        f"{synapses:.4g} synapses (weights and delays, their gradients and optimiser state)",
    )
    rng = np.random.default_rng(seed)
    populations: list = [SpikeSource(INPUT_NAME, n_inputs)]
    projections: list[Projection] = []

    def connect(projection: ProjectionSpec, pre: str, n_pre: int, post: str, n_post: int, where: str) -> None:
        shape = (n_pre, n_post)
        weights = projection.weights.sample(rng, shape, f"{where}.weights")
        delays = projection.delays.sample(rng, shape, f"{where}.delays")
        projections.append(
            Projection(
                projection_name(pre, post),
                pre,
                post,
                weights,
                delays,
                projection.max_delay_steps,
                metadata={"learn_weights": projection.learn_weights, "learn_delays": projection.learn_delays},
            )
        )

    previous, previous_size = INPUT_NAME, n_inputs
    for index, layer in enumerate(spec.hidden):
        where = f"{path}.hidden[{index}]"
        populations.append(
            LIF(
                layer.name,
                layer.size,
                tau_m_ms=layer.tau_m_ms,
                tau_syn_ms=layer.tau_syn_ms,
                threshold=layer.threshold,
                reset=0.0,
                refractory_steps=layer.refractory_steps,
            )
        )
        connect(layer.input, previous, previous_size, layer.name, layer.size, f"{where}.input")
        if layer.recurrent is not None:
            connect(layer.recurrent, layer.name, layer.size, layer.name, layer.size, f"{where}.recurrent")
        previous, previous_size = layer.name, layer.size
    readout = spec.readout
    populations.append(
        LeakyIntegrator(readout.name, n_classes, tau_m_ms=readout.tau_m_ms, tau_syn_ms=readout.tau_syn_ms)
    )
    connect(readout.input, previous, previous_size, readout.name, n_classes, f"{path}.readout.input")
    return Network(spec.name, spec.dt_ms, tuple(populations), tuple(projections))
