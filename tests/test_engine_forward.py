"""The engine's forward pass against the reference simulator's float mode, and the module surface."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from neurodelay.engine import DelayNetwork
from neurodelay.engine.forward import simulate as engine_simulate
from neurodelay.engine.layout import compile_network, source_tensors
from neurodelay.errors import ValidationError
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.ir.random_nets import random_network
from neurodelay.refsim import simulate as refsim_simulate

torch.set_num_threads(2)


def without_refractoriness(network: Network) -> Network:
    populations = tuple(
        dataclasses.replace(p, refractory_steps=0) if isinstance(p, LIF) else p for p in network.populations
    )
    return dataclasses.replace(network, populations=populations)


def engine_recording(network: Network, inputs: np.ndarray, bucket_steps: int = 32):
    compiled = compile_network(network, dtype=torch.float64, bucket_steps=bucket_steps)
    weights = {p.name: torch.as_tensor(p.weights) for p in network.projections}
    delays = {p.name: torch.as_tensor(np.asarray(p.delays_steps, np.float64)) for p in network.projections}
    return engine_simulate(compiled, source_tensors(compiled, inputs), weights, delays, record_states=True)


CASES = [
    dict(recurrent=r, sparse=s, dt_ms=dt, max_delay_steps=d, per_neuron_parameters=pp)
    for r, s, dt, d, pp in [
        (False, False, 1.0, 8, False),
        (True, False, 1.0, 8, True),
        (False, True, 0.5, 20, True),
        (True, True, 0.1, 40, True),
        (True, False, 0.25, 0, False),
        (False, False, 2.0, 3, True),
    ]
]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("case", range(len(CASES)))
def test_forward_equals_refsim_float_spike_for_spike(case, seed):
    network = without_refractoriness(random_network(100 * case + seed, **CASES[case]))
    inputs = np.random.default_rng(seed).random((3, 70, network.sources()[0].size)) < 0.3
    reference = refsim_simulate(network, inputs, mode="float")
    tape = engine_recording(network, inputs, bucket_steps=[32, 4, 1][seed % 3])
    hidden = reference.populations["hidden"]
    assert hidden.spikes.sum() > 0
    np.testing.assert_array_equal(tape.states["hidden"]["spikes"].numpy(), hidden.spikes)
    np.testing.assert_allclose(tape.states["hidden"]["v"].numpy(), hidden.states["v"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(tape.states["hidden"]["i_syn"].numpy(), hidden.states["i_syn"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        tape.readout["readout"].numpy(), reference.populations["readout"].states["v"], rtol=0, atol=1e-12
    )
    np.testing.assert_array_equal(tape.spike_counts["hidden"].numpy(), hidden.spikes.sum(1))


def test_two_sources_rest_bias_and_delay_at_the_bound():
    """Spikes through delay D land at t + 1 + D; rest and bias enter as in the IR; two spike sources."""
    rng = np.random.default_rng(3)
    hidden = LIF("hidden", 4, tau_m_ms=10.0, tau_syn_ms=4.0, rest=-0.2, bias=0.3, threshold=0.8, reset=-0.1)
    readout = LeakyIntegrator("readout", 2, rest=0.1, bias=-0.05)
    projections = (
        Projection("a_hidden", "a", "hidden", rng.normal(1.0, 0.5, (3, 4)), np.full((3, 4), 5.0), 5),
        Projection("b_hidden", "b", "hidden", rng.normal(1.0, 0.5, (2, 4)), rng.uniform(0, 9, (2, 4)), 9),
        Projection("hidden_readout", "hidden", "readout", rng.normal(0, 1, (4, 2)), rng.uniform(0, 4, (4, 2)), 4),
    )
    network = Network("two_sources", 0.5, (SpikeSource("a", 3), SpikeSource("b", 2), hidden, readout), projections)
    inputs = {"a": rng.random((2, 50, 3)) < 0.3, "b": rng.random((2, 50, 2)) < 0.3}
    reference = refsim_simulate(network, inputs, mode="float")
    tape = engine_recording(network, inputs)
    np.testing.assert_array_equal(tape.states["hidden"]["spikes"].numpy(), reference.populations["hidden"].spikes)
    np.testing.assert_allclose(
        tape.readout["readout"].numpy(), reference.populations["readout"].states["v"], atol=1e-12
    )


def test_latency_is_one_plus_delay():
    """One input spike at step 2 through delay 3 reaches I at step 6 (= 2 + 1 + 3), not before."""
    network = Network(
        "latency",
        1.0,
        (SpikeSource("input", 1), LeakyIntegrator("readout", 1)),
        (Projection("input_readout", "input", "readout", np.ones((1, 1)), np.full((1, 1), 3.0), 5),),
    )
    inputs = np.zeros((1, 10, 1), bool)
    inputs[0, 2, 0] = True
    tape = engine_recording(network, inputs)
    i_syn = tape.states["readout"]["i_syn"][0, :, 0].numpy()
    assert np.all(i_syn[:6] == 0) and i_syn[6] == 1.0


def test_delay_rounding_is_half_up_and_clamped():
    network = Network(
        "rounding",
        1.0,
        (SpikeSource("input", 1), LeakyIntegrator("readout", 4)),
        (Projection("input_readout", "input", "readout", np.ones((1, 4)), np.array([[0.49, 0.5, 1.5, 3.0]]), 3),),
    )
    module = DelayNetwork(network, dtype=torch.float64)
    with torch.no_grad():
        module.delays["input_readout"].copy_(torch.tensor([[0.49, 0.5, 2.5, 7.0]]))
    inputs = np.zeros((1, 10, 1), np.float64)
    inputs[0, 0, 0] = 1
    trace = module(inputs).readout["readout"][0].detach().numpy()
    first_nonzero = [int(np.argmax(trace[:, j] != 0)) for j in range(4)]
    assert first_nonzero == [1, 2, 4, 4]  # delays 0, 1, 3, clamp(7) = 3


def test_module_interface_and_round_trip():
    network = without_refractoriness(random_network(7, recurrent=True, sparse=True, max_delay_steps=6))
    module = DelayNetwork(network)
    assert set(module.weights) == set(module.delays) == {p.name for p in network.projections}
    assert module.weights["input_hidden"].dtype == torch.float32
    output = module(torch.as_tensor(np.random.default_rng(0).random((2, 30, 5)) < 0.3, dtype=torch.float32))
    assert output.readout["readout"].shape == (2, 30, 3) and output.spike_counts["hidden"].shape == (2, 6)
    with torch.no_grad():
        module.delays["input_hidden"].add_(100.0)
        module.delays["hidden_readout"].sub_(100.0)
    module.clamp_delays_()
    trained = module.to_network()
    projection = trained.projection("input_hidden")
    mask = network.projection("input_hidden").mask
    assert np.all(projection.delays_steps[mask] == 6) and np.all(projection.delays_steps[~mask] == 0)
    assert np.all(trained.projection("hidden_readout").delays_steps == 0)
    assert trained.provenance == network.provenance
    np.testing.assert_allclose(
        trained.projection("hidden_hidden").weights, network.projection("hidden_hidden").weights, rtol=1e-6
    )


def test_refractory_lif_is_rejected_with_the_field():
    network = random_network(0)
    network = dataclasses.replace(
        network,
        populations=(
            network.populations[0],
            dataclasses.replace(network.populations[1], refractory_steps=2),
            network.populations[2],
        ),
    )
    with pytest.raises(ValidationError, match=r"populations\[1\]\.refractory_steps"):
        DelayNetwork(network)


def with_tau_syn(network: Network, tau_syn_ms: float) -> Network:
    populations = tuple(
        dataclasses.replace(p, refractory_steps=0, tau_syn_ms=tau_syn_ms) if isinstance(p, LIF) else p
        for p in network.populations
    )
    return dataclasses.replace(network, populations=populations)


def test_a_decay_that_underflows_the_dtype_is_rejected_with_the_population():
    # dt / tau_syn = 100: exp(-100) is below float32's smallest normal number (1.2e-38) and made the
    # delay gradients NaN; float64 (smallest normal 2.2e-308) still holds it
    network = with_tau_syn(random_network(1), random_network(1).dt_ms / 100)
    with pytest.raises(ValidationError, match=r"populations\[1\]\.tau_syn_ms.*'hidden'.*underflows float32"):
        DelayNetwork(network)
    DelayNetwork(network, dtype=torch.float64)
    with pytest.raises(ValidationError, match=r"tau_syn_ms.*underflows float64"):
        DelayNetwork(with_tau_syn(network, network.dt_ms / 800), dtype=torch.float64)


@pytest.mark.parametrize(
    "inputs, field",
    [
        (np.zeros((2, 10, 4)), r"inputs\[input\]"),
        (np.full((2, 10, 5), 0.5), r"inputs\[input\]"),
        ({"other": np.zeros((2, 10, 5))}, "inputs"),
    ],
)
def test_bad_inputs_name_the_field(inputs, field):
    module = DelayNetwork(without_refractoriness(random_network(1)))
    with pytest.raises(ValidationError, match=field):
        module(inputs)
