"""The float reference simulator against traces computed by hand from the IR's equations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurodelay import ir
from neurodelay.errors import ValidationError
from neurodelay.refsim import simulate


def one_synapse_network(
    delay: int, weight: float, *, refractory_steps: int = 0, threshold: float = 1.0, max_delay: int = 6
) -> ir.Network:
    return ir.Network(
        "one",
        1.0,
        (
            ir.SpikeSource("in", 1),
            ir.LIF("lif", 1, tau_m_ms=10.0, tau_syn_ms=5.0, threshold=threshold, refractory_steps=refractory_steps),
        ),
        (ir.Projection("p", "in", "lif", [[weight]], [[delay]], max_delay),),
    )


@pytest.mark.parametrize("delay", [0, 1, 2, 6])
def test_input_spike_reaches_current_at_t_plus_one_plus_delay(delay):
    steps = 12
    spikes = np.zeros((1, steps, 1))
    spikes[0, 2, 0] = 1
    recording = simulate(one_synapse_network(delay, 0.5), spikes)
    current = recording.populations["lif"].states["i_syn"][0, :, 0]
    arrival = 2 + 1 + delay
    assert np.all(current[:arrival] == 0.0)
    beta = math.exp(-1.0 / 5.0)
    expected = [0.5 * beta**k for k in range(steps - arrival)]
    np.testing.assert_allclose(current[arrival:], expected, rtol=1e-15)


def test_voltage_follows_hand_computed_trace_and_fires_once():
    steps = 15
    spikes = np.zeros((1, steps, 1))
    spikes[0, 0, 0] = 1
    weight = 9.0
    recording = simulate(one_synapse_network(0, weight), spikes)
    alpha, beta = math.exp(-0.1), math.exp(-0.2)
    i_scale = 5.0 * (1 - beta)
    current = voltage = 0.0
    expected_v, expected_spikes = [], []
    for step in range(steps):
        current = beta * current + (weight if step == 1 else 0.0)
        voltage = alpha * voltage + (1 - alpha) * i_scale * current
        fired = voltage >= 1.0
        if fired:
            voltage = 0.0
        expected_v.append(voltage)
        expected_spikes.append(fired)
    population = recording.populations["lif"]
    np.testing.assert_allclose(population.states["v"][0, :, 0], expected_v, rtol=1e-12)
    assert population.spikes[0, :, 0].tolist() == expected_spikes
    assert sum(expected_spikes) >= 2, "the drive should make the neuron fire more than once"


def test_refractory_steps_hold_voltage_at_reset():
    steps = 20
    spikes = np.zeros((1, steps, 1))
    spikes[0, 0, 0] = 1
    free = simulate(one_synapse_network(0, 30.0), spikes).populations["lif"]
    held = simulate(one_synapse_network(0, 30.0, refractory_steps=3), spikes).populations["lif"]
    first = int(np.argmax(held.spikes[0, :, 0]))
    assert first == int(np.argmax(free.spikes[0, :, 0]))
    assert np.all(held.states["v"][0, first : first + 4, 0] == 0.0)
    assert not held.spikes[0, first + 1 : first + 4, 0].any()
    assert free.spikes[0, first + 1 : first + 4, 0].any(), "without refractoriness it fires again at once"


def test_recurrent_self_loop_latency():
    network = ir.Network(
        "loop",
        1.0,
        (ir.SpikeSource("in", 1), ir.LIF("lif", 1, tau_m_ms=1e-3, tau_syn_ms=1e-3)),
        (
            ir.Projection("drive", "in", "lif", [[2e3]], [[0]], 0),
            ir.Projection("self", "lif", "lif", [[2e3]], [[3]], 3),
        ),
    )
    spikes = np.zeros((1, 20, 1))
    spikes[0, 0, 0] = 1
    fired = np.nonzero(simulate(network, spikes).populations["lif"].spikes[0, :, 0])[0].tolist()
    # input at 0 -> fires at 1; each self-spike at t returns at t + 1 + 3
    assert fired == [1, 5, 9, 13, 17]


def test_non_integer_delays_round_half_up():
    steps = 10
    spikes = np.zeros((1, steps, 1))
    spikes[0, 0, 0] = 1
    for delay, expected_arrival in [(1.49, 2), (1.5, 3), (2.5, 4), (0.5, 2)]:
        current = simulate(one_synapse_network(delay, 1.0), spikes).populations["lif"].states["i_syn"][0, :, 0]
        assert int(np.argmax(current > 0)) == expected_arrival, delay


def test_unknown_mode_is_a_clear_error():
    with pytest.raises(ValidationError, match="mode"):
        simulate(one_synapse_network(0, 1.0), np.zeros((1, 3, 1)), mode="nope")


@pytest.mark.parametrize("mode", ["float", "loihi2", "spinnaker"])
def test_inputs_that_are_neither_a_mapping_nor_one_array_are_refused(mode):
    """A list of arrays ended in "TypeError: unhashable type: 'numpy.ndarray'"."""
    from neurodelay.quant.calibration import quantize

    network = ir.load("examples/feedforward.ndnet")
    if mode != "float":
        network, _ = quantize(network, mode)
    with pytest.raises(ValidationError, match=r"inputs: got list \(allowed: a mapping"):
        simulate(network, [np.zeros((1, 10, 20), bool)], mode=mode)
