"""Regenerate the example network files in this folder (deterministic; run from anywhere).

    python examples/build_examples.py

feedforward.ndnet: 20 inputs -> 32 LIF -> 4 leaky-integrator readouts, delays 0..20 steps, dt 1 ms.
recurrent.ndnet:   20 inputs -> 32 LIF with a sparse recurrent projection (delays 0..10) -> 4 readouts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from neurodelay import ir

HERE = Path(__file__).resolve().parent


def feedforward() -> ir.Network:
    rng = np.random.default_rng(1)
    return ir.Network(
        "feedforward_example",
        1.0,
        (
            ir.SpikeSource("input", 20),
            ir.LIF("hidden", 32, tau_m_ms=20.0, tau_syn_ms=5.0),
            ir.LeakyIntegrator("readout", 4, tau_m_ms=20.0, tau_syn_ms=5.0),
        ),
        (
            ir.Projection(
                "input_hidden", "input", "hidden", rng.normal(0, 1.5, (20, 32)), rng.uniform(0, 20, (20, 32)), 20
            ),
            ir.Projection("hidden_readout", "hidden", "readout", rng.normal(0, 0.5, (32, 4)), np.zeros((32, 4)), 0),
        ),
        provenance={"built_by": "examples/build_examples.py"},
    )


def recurrent() -> ir.Network:
    rng = np.random.default_rng(2)
    mask = rng.random((32, 32)) < 0.2
    np.fill_diagonal(mask, False)
    return ir.Network(
        "recurrent_example",
        1.0,
        (
            ir.SpikeSource("input", 20),
            ir.LIF("hidden", 32, tau_m_ms=20.0, tau_syn_ms=5.0, refractory_steps=1),
            ir.LeakyIntegrator("readout", 4, tau_m_ms=20.0, tau_syn_ms=5.0),
        ),
        (
            ir.Projection(
                "input_hidden", "input", "hidden", rng.normal(0, 1.5, (20, 32)), rng.uniform(0, 20, (20, 32)), 20
            ),
            ir.Projection(
                "hidden_hidden",
                "hidden",
                "hidden",
                np.where(mask, rng.normal(0, 0.3, (32, 32)), 0.0),
                np.where(mask, rng.uniform(0, 10, (32, 32)), 0.0),
                10,
                mask=mask,
            ),
            ir.Projection("hidden_readout", "hidden", "readout", rng.normal(0, 0.5, (32, 4)), np.zeros((32, 4)), 0),
        ),
        provenance={"built_by": "examples/build_examples.py"},
    )


if __name__ == "__main__":
    for network in (feedforward(), recurrent()):
        path = ir.save(network, HERE / f"{network.name.removesuffix('_example')}.ndnet")
        print(f"wrote {path}")
