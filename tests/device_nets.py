"""Random networks for the device-path tests: feed-forward, self-recurrent and two-population
loops, dense or sparse, delays 0..D; parameters chosen so that hidden neurons fire several times."""

from __future__ import annotations

import numpy as np

from neurodelay import ir

TOPOLOGIES = ("feedforward", "self_recurrent", "loop")


def device_test_network(
    seed: int,
    topology: str,
    *,
    sparse: bool,
    max_delay_steps: int,
    dt_ms: float = 1.0,
    sizes: tuple[int, int, int, int] = (6, 7, 5, 3),
) -> ir.Network:
    """input -> a -> b -> readout (plus a -> a for ``self_recurrent``, b -> a for ``loop``), also
    input -> b and a -> readout, so that blocks receive several projections."""
    rng = np.random.default_rng(seed)
    n_in, n_a, n_b, n_out = sizes

    def lif(name, size):
        return ir.LIF(
            name,
            size,
            tau_m_ms=rng.uniform(5, 20, size),
            tau_syn_ms=rng.uniform(2, 8, size),
            threshold=rng.uniform(0.8, 1.2, size),
            reset=rng.uniform(-0.2, 0.1, size),
            rest=rng.uniform(-0.1, 0.1, size),
            bias=rng.uniform(-0.02, 0.05, size),
        )

    def projection(pre, post, n_pre, n_post, scale):
        mask = rng.random((n_pre, n_post)) < 0.6 if sparse else None
        exists = np.ones((n_pre, n_post), bool) if mask is None else mask
        weights = np.where(exists, rng.normal(0.3 * scale, scale, (n_pre, n_post)), 0.0)
        # cubed uniforms: most delays short enough to arrive within a short trial, a few up to D
        delays = np.where(exists, max_delay_steps * rng.random((n_pre, n_post)) ** 3, 0.0)
        return ir.Projection(f"{pre}_{post}", pre, post, weights, delays, max_delay_steps, mask=mask)

    pairs = [
        ("input", "a", n_in, n_a, 3.0),
        ("a", "b", n_a, n_b, 2.0),
        ("input", "b", n_in, n_b, 1.0),
        ("b", "readout", n_b, n_out, 1.0),
        ("a", "readout", n_a, n_out, 0.5),
    ]
    if topology == "self_recurrent":
        pairs.append(("a", "a", n_a, n_a, 0.8))
    elif topology == "loop":
        pairs.append(("b", "a", n_b, n_a, 0.8))
    populations = (
        ir.SpikeSource("input", n_in),
        lif("a", n_a),
        lif("b", n_b),
        ir.LeakyIntegrator("readout", n_out, tau_m_ms=rng.uniform(5, 20, n_out), tau_syn_ms=rng.uniform(2, 8, n_out)),
    )
    return ir.Network(f"device_{topology}_{seed}", dt_ms, populations, tuple(projection(*pair) for pair in pairs))
