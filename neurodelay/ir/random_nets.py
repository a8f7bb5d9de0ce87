"""Seeded random IR networks: :func:`random_network` (one fixed topology, input -> LIF hidden ->
readout, for property tests, fuzzing and engine tests) and :func:`random_case` (the parity campaigns'
varied topologies, delay profiles, signs and overdrive, with inputs)."""

from __future__ import annotations

import numpy as np

from .network import Network
from .nodes import LIF, LeakyIntegrator, Projection, SpikeSource


def random_projection(
    rng: np.random.Generator,
    name: str,
    pre: str,
    post: str,
    n_pre: int,
    n_post: int,
    *,
    max_delay_steps: int,
    weight_scale: float,
    sparse: bool,
    integer_delays: bool,
) -> Projection:
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


def random_network(
    seed: int,
    *,
    recurrent: bool = False,
    sparse: bool = False,
    max_delay_steps: int = 8,
    n_inputs: int = 5,
    n_hidden: int = 6,
    n_outputs: int = 3,
    dt_ms: float = 1.0,
    integer_delays: bool = False,
    weight_scale: float = 1.0,
    per_neuron_parameters: bool = False,
) -> Network:
    """Input -> LIF hidden (optionally self-recurrent) -> leaky-integrator readout."""
    rng = np.random.default_rng(seed)

    def parameter(low: float, high: float, size: int):
        return rng.uniform(low, high, size) if per_neuron_parameters else float(rng.uniform(low, high))

    hidden = LIF(
        "hidden",
        n_hidden,
        tau_m_ms=parameter(5.0, 30.0, n_hidden),
        tau_syn_ms=parameter(2.0, 10.0, n_hidden),
        threshold=1.0,
        reset=0.0,
        refractory_steps=int(rng.integers(0, 3)),
    )
    readout = LeakyIntegrator(
        "readout", n_outputs, tau_m_ms=parameter(5.0, 30.0, n_outputs), tau_syn_ms=parameter(2.0, 10.0, n_outputs)
    )
    common = dict(max_delay_steps=max_delay_steps, sparse=sparse, integer_delays=integer_delays)
    projections = [
        random_projection(
            rng, "input_hidden", "input", "hidden", n_inputs, n_hidden, weight_scale=weight_scale * 3.0, **common
        )
    ]
    if recurrent:
        projections.append(
            random_projection(
                rng, "hidden_hidden", "hidden", "hidden", n_hidden, n_hidden, weight_scale=weight_scale, **common
            )
        )
    projections.append(
        random_projection(
            rng, "hidden_readout", "hidden", "readout", n_hidden, n_outputs, weight_scale=weight_scale, **common
        )
    )
    return Network(
        f"random_{seed}",
        dt_ms,
        (SpikeSource("input", n_inputs), hidden, readout),
        tuple(projections),
        provenance={"generator": "neurodelay.ir.random_nets", "seed": seed},
    )


DELAY_PROFILES = ("zero", "one", "max", "mixed")


def random_delays(rng: np.random.Generator, shape: tuple[int, int], profile: str, max_delay_steps: int) -> np.ndarray:
    """int64 delays: all 0, all 1, all ``max_delay_steps``, or uniform with 0, 1 and the maximum included."""
    if profile == "zero":
        return np.zeros(shape, np.int64)
    if profile == "one":
        return np.full(shape, min(1, max_delay_steps), np.int64)
    if profile == "max":
        return np.full(shape, max_delay_steps, np.int64)
    top = int(rng.choice([min(2, max_delay_steps), min(5, max_delay_steps), max_delay_steps]))
    delays = rng.integers(0, top + 1, shape)
    flat = delays.reshape(-1)
    for position, value in zip(rng.permutation(flat.size)[:3], (0, min(1, top), top)):
        flat[position] = value
    return delays.astype(np.int64)


def random_lif(
    rng: np.random.Generator, name: str, size: int, threshold: float, bias: float | np.ndarray, refractory_steps: int
) -> LIF:
    """A LIF population with rest and reset 0 and time constants drawn in this order: tau_m in
    [2, 50) ms, tau_syn in [1, 20) ms."""
    return LIF(
        name,
        size,
        tau_m_ms=float(rng.uniform(2.0, 50.0)),
        tau_syn_ms=float(rng.uniform(1.0, 20.0)),
        threshold=threshold,
        reset=0.0,
        rest=0.0,
        bias=bias,
        refractory_steps=refractory_steps,
    )


def maybe_readout(rng: np.random.Generator, probability: float) -> LeakyIntegrator | None:
    """With ``probability``, a leaky-integrator population ``readout`` of 1-4 neurons (tau_m 2-50 ms,
    tau_syn 1-20 ms); ``None`` otherwise. Draws in this order: the coin, size, tau_m, tau_syn."""
    if rng.random() >= probability:
        return None
    return LeakyIntegrator(
        "readout",
        int(rng.integers(1, 5)),
        tau_m_ms=float(rng.uniform(2.0, 50.0)),
        tau_syn_ms=float(rng.uniform(1.0, 20.0)),
    )


def campaign_projection(
    rng: np.random.Generator,
    name: str,
    pre: str,
    post: str,
    n_pre: int,
    n_post: int,
    threshold: float,
    overdrive: bool,
    max_delay_steps: int,
) -> Projection:
    scale = threshold * rng.uniform(0.3, 3.0) * (rng.uniform(100.0, 1000.0) if overdrive else 1.0)
    weights = rng.normal(0.0, scale, (n_pre, n_post))
    sign = rng.random()
    if sign < 0.2:
        weights = np.abs(weights)
    elif sign < 0.35:
        weights = -np.abs(weights)
    delays = random_delays(rng, (n_pre, n_post), str(rng.choice(DELAY_PROFILES)), max_delay_steps)
    mask = None
    if rng.random() < 0.4:
        mask = rng.random((n_pre, n_post)) < rng.uniform(0.2, 0.8)
        weights, delays = np.where(mask, weights, 0.0), np.where(mask, delays, 0)
    return Projection(name, pre, post, weights, delays, max_delay_steps, mask=mask)


def random_case(seed: int, *, max_delay_steps: int) -> tuple[Network, dict[str, np.ndarray]]:
    """A random float network of the parity campaigns and its inputs ``{"input": bool [1, steps, n]}``.

    Each seed draws a topology (a spike source, one or two LIF populations, optionally a
    leaky-integrator readout; feed-forward, self-recurrent and two-population loops), a delay profile
    per projection (all 0, all 1, all at the maximum, or mixed with 0, 1 and the maximum present),
    dense or sparse connectivity, weights of one or both signs at a normal or an overdriving scale
    (to reach the targets' overflow behaviour), biases, thresholds, time constants, and Poisson
    inputs of a random rate. LIF populations have rest 0, reset 0, no refractory period and
    per-population time constants and thresholds, which every built-in target supports.
    """
    rng = np.random.default_rng(seed)
    overdrive = rng.random() < 0.25
    n_inputs = int(rng.integers(1, 13))
    populations: list = [SpikeSource("input", n_inputs)]
    thresholds: dict[str, float] = {}
    names = ["l1"] + (["l2"] if rng.random() < 0.7 else [])
    for name in names:
        size = int(rng.integers(1, 17))
        thresholds[name] = float(rng.uniform(0.3, 3.0))
        bias = 0.0
        if rng.random() < 0.3:
            bias = rng.normal(0.0, thresholds[name] * rng.choice([0.2, 1.0, 50.0]), size)
        populations.append(random_lif(rng, name, size, thresholds[name], bias, 0))
    pairs = [("input", "l1")]
    if "l2" in names:
        pairs.append(("l1", "l2"))
        if rng.random() < 0.3:
            pairs.append(("l2", "l1"))
        if rng.random() < 0.3:
            pairs.append(("l2", "l2"))
    if rng.random() < 0.4:
        pairs.append(("l1", "l1"))
    readout = maybe_readout(rng, 0.5)
    if readout is not None:
        populations.append(readout)
        thresholds["readout"] = 1.0
        pairs.append((names[-1], "readout"))
    sizes = {p.name: p.size for p in populations}
    projections = [
        campaign_projection(
            rng, f"{pre}_{post}", pre, post, sizes[pre], sizes[post], thresholds[post], overdrive, max_delay_steps
        )
        for pre, post in pairs
    ]
    steps = int(rng.integers(max_delay_steps + 2, max_delay_steps + 30))
    inputs = {"input": rng.random((1, steps, n_inputs)) < rng.uniform(0.02, 0.6)}
    network = Network(
        f"parity_{seed}",
        1.0,
        tuple(populations),
        tuple(projections),
        provenance={"generator": "neurodelay.ir.random_nets.random_case", "seed": seed},
    )
    return network, inputs
