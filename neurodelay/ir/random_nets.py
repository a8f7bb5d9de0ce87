"""Seeded random IR networks for property tests, fuzzing, gradient checks and parity campaigns."""
from __future__ import annotations

import numpy as np

from .network import Network
from .nodes import LIF, LeakyIntegrator, Projection, SpikeSource


def random_projection(rng: np.random.Generator, name: str, pre: str, post: str, n_pre: int, n_post: int,
                      *, max_delay_steps: int, weight_scale: float, sparse: bool,
                      integer_delays: bool) -> Projection:
    """A projection with N(0, weight_scale) weights and delays uniform in [0, max_delay_steps]."""
    weights = rng.normal(0.0, weight_scale, (n_pre, n_post))
    if integer_delays:
        delays = rng.integers(0, max_delay_steps + 1, (n_pre, n_post)).astype(np.int64)
    else:
        delays = rng.uniform(0.0, max_delay_steps, (n_pre, n_post))
    mask = None
    if sparse:
        mask = rng.random((n_pre, n_post)) < 0.5
        weights = np.where(mask, weights, 0.0)
        delays = np.where(mask, delays, 0).astype(delays.dtype)
    return Projection(name, pre, post, weights, delays, max_delay_steps, mask=mask)


def random_network(seed: int, *, recurrent: bool = False, sparse: bool = False, max_delay_steps: int = 8,
                   n_inputs: int = 5, n_hidden: int = 6, n_outputs: int = 3, dt_ms: float = 1.0,
                   integer_delays: bool = False, weight_scale: float = 1.0,
                   per_neuron_parameters: bool = False) -> Network:
    """Input -> LIF hidden (optionally self-recurrent) -> leaky-integrator readout."""
    rng = np.random.default_rng(seed)

    def parameter(low: float, high: float, size: int):
        return rng.uniform(low, high, size) if per_neuron_parameters else float(rng.uniform(low, high))

    hidden = LIF("hidden", n_hidden, tau_m_ms=parameter(5.0, 30.0, n_hidden),
                 tau_syn_ms=parameter(2.0, 10.0, n_hidden), threshold=1.0, reset=0.0,
                 refractory_steps=int(rng.integers(0, 3)))
    readout = LeakyIntegrator("readout", n_outputs, tau_m_ms=parameter(5.0, 30.0, n_outputs),
                              tau_syn_ms=parameter(2.0, 10.0, n_outputs))
    common = dict(max_delay_steps=max_delay_steps, sparse=sparse, integer_delays=integer_delays)
    projections = [random_projection(rng, "input_hidden", "input", "hidden", n_inputs, n_hidden,
                                     weight_scale=weight_scale * 3.0, **common)]
    if recurrent:
        projections.append(random_projection(rng, "hidden_hidden", "hidden", "hidden", n_hidden, n_hidden,
                                             weight_scale=weight_scale, **common))
    projections.append(random_projection(rng, "hidden_readout", "hidden", "readout", n_hidden, n_outputs,
                                         weight_scale=weight_scale, **common))
    return Network(f"random_{seed}", dt_ms, (SpikeSource("input", n_inputs), hidden, readout),
                   tuple(projections), provenance={"generator": "neurodelay.ir.random_nets", "seed": seed})
