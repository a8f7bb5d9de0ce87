"""Delays beyond a chip's range: relay chains reproduce long delays exactly (float refsim, and bit for
bit in the Loihi 2 mode), the coarser timestep rescales decays, delays and inputs as stated, the
clamp counts what it clips, and the reports count neurons and cores."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource, decays
from neurodelay.quant.calibration import quantize
from neurodelay.quant.delay_range import clamp_delays, coarsen_inputs, coarsen_timestep, relay_chains
from neurodelay.targets import get_target
from neurodelay.refsim import simulate


def long_delay_network(seed: int, max_delay: int = 200, recurrent: bool = False) -> Network:
    rng = np.random.default_rng(seed)
    projections = [
        Projection(
            "in_h",
            "in",
            "h",
            rng.normal(1.0, 0.8, (6, 8)),
            rng.integers(0, max_delay + 1, (6, 8)).astype(float),
            max_delay,
        ),
        Projection("h_out", "h", "out", rng.normal(0.0, 1.0, (8, 2)), rng.integers(0, 90, (8, 2)).astype(float), 100),
    ]
    if recurrent:
        mask = rng.random((8, 8)) < 0.3
        projections.append(
            Projection(
                "h_h",
                "h",
                "h",
                np.where(mask, rng.normal(0, 0.5, (8, 8)), 0.0),
                np.where(mask, rng.integers(0, 80, (8, 8)), 0).astype(float),
                80,
                mask=mask,
            )
        )
    return Network(
        "long",
        1.0,
        (SpikeSource("in", 6), LIF("h", 8, tau_m_ms=10.0, tau_syn_ms=5.0), LeakyIntegrator("out", 2)),
        tuple(projections),
    )


def expected_relays(delays: np.ndarray, bound: int) -> int:
    """Relay neurons by counting hop by hop: pre neuron i needs a relay at level k while some delay
    still exceeds what k - 1 relays reach (k - 1 hops of bound + 1 plus a last link of bound)."""
    total = 0
    for row in delays:
        level = 0
        while row.max() > level * (bound + 1) + bound:
            level += 1
        total += level
    return total


@pytest.mark.parametrize("seed,recurrent", [(0, False), (1, True), (2, True)])
def test_relay_chain_reproduces_long_delays_exactly_in_float(seed, recurrent):
    network = long_delay_network(seed, recurrent=recurrent)
    relayed, report = relay_chains(network, 20)
    assert all(p.max_delay_steps <= 20 for p in relayed.projections)
    assert all(np.asarray(p.delays_steps)[p.existing()].max(initial=0) <= 20 for p in relayed.projections)
    for name in ("in_h", "h_out"):
        assert report.relay_neurons[name] == expected_relays(network.projection(name).delays_steps, 20)
    added = sum(p.size for p in relayed.neurons()) - sum(p.size for p in network.neurons())
    assert added == report.extra_neurons > 0
    inputs = {"in": np.random.default_rng(seed).random((3, 400, 6)) < 0.05}
    reference, candidate = simulate(network, inputs), simulate(relayed, inputs)
    for name in ("h", "out"):
        np.testing.assert_array_equal(candidate.populations[name].spikes, reference.populations[name].spikes)
        np.testing.assert_allclose(
            candidate.populations[name].states["v"], reference.populations[name].states["v"], rtol=0, atol=1e-12
        )
    assert reference.populations["h"].spikes.sum() > 50


def test_relay_chain_is_bit_exact_on_the_loihi2_mode():
    """Delays up to 60 fit Loihi 2 directly; relayed through a bound of 5 steps they must give the
    same integers. Weights are multiples of 4 integer units, which every exponent up to 1 holds
    (mixed-sign mantissas are even), so every projection quantizes losslessly."""
    network = long_delay_network(4, max_delay=60)
    scale = quantize(network, "loihi2")[0].projection("in_h").weight_format.scale
    readout_scale = quantize(network, "loihi2")[0].projection("h_out").weight_format.scale
    rng = np.random.default_rng(0)
    network = network.with_projections(
        [
            replace(network.projections[0], weights=4 * rng.integers(-20, 120, (6, 8)) * scale),
            replace(
                network.projections[1],
                weights=4 * rng.integers(-60, 60, (8, 2)) * readout_scale,
                delays_steps=rng.integers(0, 60, (8, 2)).astype(float),
                max_delay_steps=60,
            ),
        ]
    )
    relayed, report = relay_chains(network, 5)
    direct_q, direct_summary = quantize(network, "loihi2")
    relayed_q, relayed_summary = quantize(relayed, "loihi2", strict=True)
    assert all(p.weights_rounded == 0 for p in relayed_summary.projections)
    assert not [c for c in relayed_summary.parameters if c.population.startswith(("in_h_relay", "h_out_relay"))]
    inputs = {"in": np.random.default_rng(7).random((2, 150, 6)) < 0.1}
    direct, chained = simulate(direct_q, inputs, mode="loihi2"), simulate(relayed_q, inputs, mode="loihi2")
    for name in ("h", "out"):
        np.testing.assert_array_equal(chained.populations[name].spikes, direct.populations[name].spikes)
        np.testing.assert_array_equal(chained.populations[name].states["v"], direct.populations[name].states["v"])
    assert direct.populations["h"].spikes.sum() > 20


def test_relay_cores_are_counted_on_spinnaker():
    network = long_delay_network(5, max_delay=600)
    target = get_target("spinnaker")
    bound = target.delay_bound(network, "h")
    assert bound == 9 * 1024 - 1  # 8 neurons: 2**(14 - 3 - 1) ring-buffer slots, 8 delay-extension stages
    relayed, report = relay_chains(network, 30)
    quantized, _ = quantize(relayed, "spinnaker")
    cores = target.cores(quantized)
    relay_populations = [p for p in relayed.neurons() if p.metadata.get("role") == "delay relay"]
    assert sum(p.size for p in relay_populations) == report.extra_neurons
    for population in relay_populations:  # small populations: one core each at 256 per core
        assert cores[population.name] == math.ceil(population.size / 256) == 1
    assert cores["h"] == 1 and cores["out"] == 1


def test_coarser_timestep_rescales_decays_delays_and_inputs():
    factor = 3
    rng = np.random.default_rng(0)
    fine_delays = factor * rng.integers(1, 10, (4, 5)) - 1  # (1 + d) divisible by 3: exact
    network = Network(
        "fine",
        1.0,
        (SpikeSource("in", 4), LIF("h", 5, tau_m_ms=10.0, tau_syn_ms=0.05, threshold=100.0)),
        (Projection("p", "in", "h", rng.uniform(1.0, 2.0, (4, 5)), fine_delays.astype(float), 30),),
    )
    coarse, report = coarsen_timestep(network, factor)
    assert coarse.dt_ms == 3.0
    np.testing.assert_allclose(decays(coarse.population("h"), 3.0)[0], decays(network.population("h"), 1.0)[0] ** 3)
    np.testing.assert_array_equal(coarse.projection("p").delays_steps, (1 + fine_delays) // factor - 1)
    assert report.synapses_retimed["p"] == 0 and report.max_latency_error_ms["p"] == 0
    # spikes on the coarse grid arrive at the same times in ms (synaptic decay ~0 marks arrivals)
    fine_inputs = np.zeros((1, 90, 4), bool)
    fine_inputs[0, [0, 9, 30], [0, 1, 3]] = True
    coarse_inputs, merged = coarsen_inputs({"in": fine_inputs}, factor)
    assert merged == 0 and coarse_inputs["in"].shape == (1, 30, 4)

    def arrivals(recording, dt):
        return set(np.round(np.nonzero(recording.populations["h"].states["i_syn"][0] > 0.5)[0] * dt, 6))

    fine_run, coarse_run = simulate(network, {"in": fine_inputs}), simulate(coarse, coarse_inputs)
    assert arrivals(fine_run, 1.0) == arrivals(coarse_run, 3.0) != set()
    # a delay that the coarse grid cannot hold is counted, with its latency error
    moved = network.with_projections([replace(network.projections[0], delays_steps=np.full((4, 5), 3.0))])
    _, report = coarsen_timestep(moved, factor)
    assert report.synapses_retimed["p"] == 20 and report.max_latency_error_ms["p"] == 1.0  # 4 ms -> 3 ms
    doubled = np.zeros((1, 6, 1), bool)
    doubled[0, [0, 1, 4], 0] = True
    _, merged = coarsen_inputs({"in": doubled}, factor)
    assert merged == 1


def test_clamp_counts_clipped_delays():
    network = long_delay_network(6)
    clamped, report = clamp_delays(network, 62)
    delays = network.projection("in_h").delays_steps
    assert report.clipped["in_h"] == int(np.count_nonzero(delays > 62))
    assert report.max_excess_steps["in_h"] == delays.max() - 62
    assert clamped.projection("in_h").max_delay_steps == 62
    assert np.asarray(clamped.projection("in_h").delays_steps).max() == 62
