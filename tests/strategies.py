"""Hypothesis strategies for IR networks (shared by the property tests)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from neurodelay import ir


@st.composite
def networks(draw) -> ir.Network:
    """Random valid networks: ff or recurrent, dense or sparse, float or quantized, scalar or per-neuron params."""
    seed = draw(st.integers(0, 2**32 - 1))
    recurrent = draw(st.booleans())
    sparse = draw(st.booleans())
    quantized = draw(st.booleans())
    per_neuron = draw(st.booleans())
    integer_delays = quantized or draw(st.booleans())
    sizes = [draw(st.integers(1, 7)) for _ in range(3)]
    max_delay = draw(st.integers(0, 70))
    dt_ms = draw(st.sampled_from([1.0, 0.1, 0.5, 0.025, 2.0 / 3.0]))
    rng = np.random.default_rng(seed)

    def parameter(low, high, size):
        return rng.uniform(low, high, size) if per_neuron else float(rng.uniform(low, high))

    populations = (
        ir.SpikeSource("input", sizes[0], metadata={"encoding": "ttfs"} if draw(st.booleans()) else {}),
        ir.LIF(
            "hidden",
            sizes[1],
            tau_m_ms=parameter(1, 50, sizes[1]),
            tau_syn_ms=parameter(0.5, 20, sizes[1]),
            threshold=parameter(0.5, 2, sizes[1]),
            reset=parameter(-0.5, 0.4, sizes[1]),
            rest=parameter(-0.2, 0.2, sizes[1]),
            bias=parameter(-0.1, 0.1, sizes[1]),
            refractory_steps=int(rng.integers(0, 5)),
        ),
        ir.LeakyIntegrator(
            "readout", sizes[2], tau_m_ms=parameter(1, 50, sizes[2]), tau_syn_ms=parameter(0.5, 20, sizes[2])
        ),
    )
    pairs = [("input", "hidden"), ("hidden", "readout")] + ([("hidden", "hidden")] if recurrent else [])
    index = {p.name: p.size for p in populations}
    projections = []
    for pre, post in pairs:
        shape = (index[pre], index[post])
        mask = rng.random(shape) < 0.6 if sparse else None
        exists = np.ones(shape, bool) if mask is None else mask
        if integer_delays:
            delays = np.where(exists, rng.integers(0, max_delay + 1, shape), 0).astype(np.int64)
        else:
            delays = np.where(exists, rng.uniform(0, max_delay, shape), 0.0)
        extra = {}
        if quantized:
            fmt = ir.WeightFormat("loihi2", 8, int(rng.integers(-3, 4)), float(rng.uniform(0.001, 0.1)))
            integers = np.where(exists, rng.integers(-128, 128, shape), 0).astype(np.int64)
            weights = fmt.to_float(integers)
            extra = {"integer_weights": integers, "weight_format": fmt}
        else:
            weights = np.where(exists, rng.normal(0, 1, shape), 0.0)
        projections.append(
            ir.Projection(
                f"{pre}_{post}", pre, post, weights, delays, max_delay, mask=mask, metadata={"learned": True}, **extra
            )
        )
    provenance = {"seed": seed, "software": {"neurodelay": "test"}, "values": [1, 2.5, None, "x"]}
    return ir.Network(f"net_{seed}", dt_ms, populations, tuple(projections), provenance=provenance)
