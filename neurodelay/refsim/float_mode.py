"""Float mode of the reference simulator: the IR's dynamics in float64 numpy, batched over inputs.

This is the executable definition of :mod:`neurodelay.ir.nodes` (dynamics, reset, refractoriness,
latency ``t + 1 + d``), written as a plain step loop so that the torch engine's forward pass and
finite-difference gradient checks can be compared against an independent implementation.

Per step n, for every population with dynamics (order between populations is irrelevant, since
every connection has a latency of at least one step):

    I = beta * I + ring[n % R];  ring[n % R] = 0
    V = rest + alpha * (V - rest) + (1 - alpha) * (i_scale * I + bias)      (not refractory)
    V = reset                                                               (refractory)
    spike = not refractory and V >= threshold;  V[spike] = reset; refractory counter = refractory_steps

then every spike of step n is added to ``ring[(n + 1 + d) % R]`` of the post population, with
``R = 1 + max(max_delay_steps of the incoming projections)``.
"""

from __future__ import annotations

import numpy as np

from ..ir import LIF, Network, as_vector, decays
from ..recording import PopulationRecording, Recording


def integer_delays(delays_steps: np.ndarray, max_delay_steps: int) -> np.ndarray:
    """Delays as used by every executor: ``floor(d + 0.5)`` clamped to ``[0, max_delay_steps]`` (int64)."""
    if delays_steps.dtype.kind in "iu":
        return delays_steps.astype(np.int64)
    return np.clip(np.floor(delays_steps + 0.5), 0, max_delay_steps).astype(np.int64)


def simulate_float(network: Network, inputs: dict[str, np.ndarray]) -> Recording:
    """Run ``network`` on ``inputs`` (``{source: bool [batch, steps, n]}``); states ``v``, ``i_syn``."""
    batch, steps = next(iter(inputs.values())).shape[:2]
    neurons = network.neurons()
    state = {}
    for population in neurons:
        n = population.size
        alpha, beta, i_scale = decays(population, network.dt_ms)
        ring_slots = 1 + max((p.max_delay_steps for p in network.incoming(population.name)), default=0)
        state[population.name] = dict(
            alpha=alpha,
            beta=beta,
            i_scale=i_scale,
            rest=as_vector(population.rest, n),
            bias=as_vector(population.bias, n),
            current=np.zeros((batch, n)),
            voltage=np.tile(as_vector(population.rest, n), (batch, 1)),
            ring=np.zeros((batch, ring_slots, n)),
            slots=ring_slots,
            refractory=np.zeros((batch, n), np.int64),
        )
    delays = {p.name: integer_delays(p.delays_steps, p.max_delay_steps) for p in network.projections}
    weights = {p.name: np.where(p.existing(), p.weights, 0.0) for p in network.projections}
    record = {p.name: PopulationRecording(np.zeros((batch, steps, p.size), bool)) for p in network.populations}
    for population in neurons:
        record[population.name].states = {
            "v": np.zeros((batch, steps, population.size)),
            "i_syn": np.zeros((batch, steps, population.size)),
        }
        record[population.name].state_scales = {"v": 1.0, "i_syn": 1.0}
    for name, spikes in inputs.items():
        record[name].spikes[:] = spikes

    for step in range(steps):
        for population in neurons:
            s = state[population.name]
            slot = step % s["slots"]
            s["current"] = s["beta"] * s["current"] + s["ring"][:, slot]
            s["ring"][:, slot] = 0.0
            integrated = (
                s["rest"]
                + s["alpha"] * (s["voltage"] - s["rest"])
                + (1.0 - s["alpha"]) * (s["i_scale"] * s["current"] + s["bias"])
            )
            if isinstance(population, LIF):
                reset = as_vector(population.reset, population.size)
                refractory = s["refractory"] > 0
                voltage = np.where(refractory, reset, integrated)
                spikes = ~refractory & (voltage >= as_vector(population.threshold, population.size))
                voltage = np.where(spikes, reset, voltage)
                s["refractory"] = np.where(spikes, population.refractory_steps, np.maximum(s["refractory"] - 1, 0))
                record[population.name].spikes[:, step] = spikes
            else:
                voltage = integrated
            s["voltage"] = voltage
            record[population.name].states["v"][:, step] = voltage
            record[population.name].states["i_syn"][:, step] = s["current"]
        for projection in network.projections:
            spikes = record[projection.pre].spikes[:, step]
            if not spikes.any():
                continue
            s = state[projection.post]
            batch_index, pre_index = np.nonzero(spikes)
            slots = (step + 1 + delays[projection.name][pre_index]) % s["slots"]  # [K, n_post]
            n_post = projection.weights.shape[1]
            flat = (batch_index[:, None] * s["slots"] + slots) * n_post + np.arange(n_post)
            s["ring"] += np.bincount(
                flat.ravel(), weights[projection.name][pre_index].ravel(), minlength=s["ring"].size
            ).reshape(s["ring"].shape)
    return Recording("refsim-float", network.dt_ms, steps, record)
