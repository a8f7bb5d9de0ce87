"""Loihi 2 format table, encoding and quantizer against hand-computed integers.

Expected values come from Lava measurements recorded in docs/loihi2.md §L2 (weight
grids) or from arithmetic done by hand in the comments, never from the code under test.
"""

import math

import numpy as np
import pytest

from neurodelay.errors import TargetLimitError
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource, WeightFormat
from neurodelay.quant.loihi2 import (
    FORMAT,
    READOUT_VTH,
    effective_weights,
    integer_model,
    quantize_network,
    sign_mode_of,
)

# tau_syn = 1/ln 2 ms with dt = 1 ms gives beta = 0.5, so du = 4095 - 2048 = 2047;
# tau_m = -1/ln 0.75 ms gives alpha = 0.75, so dv = 4096 * 0.25 = 1024.
TAU_SYN = 1.0 / math.log(2.0)
TAU_M = -1.0 / math.log(0.75)
I_SCALE = TAU_SYN * 0.5  # (tau_syn / dt) * (1 - beta)


@pytest.mark.parametrize(
    "weights, sign_mode, bits, delivered",
    [
        (
            [3, -3, 1, -1, 2, 255, 256, -256, -257, 300, -300, 127],
            "mixed",
            8,
            [2, -4, 0, -2, 2, 254, 254, -256, -256, 254, -256, 126],
        ),
        ([0, 1, 3, 255, 256, 300], "excitatory", 8, [0, 1, 3, 255, 255, 255]),
        ([0, -1, -3, -255, -256, -300], "inhibitory", 8, [0, -1, -3, -255, -255, -255]),
        ([1, 3, 4, 7, 255], "excitatory", 6, [0, 0, 4, 4, 252]),
        ([1, 3, 4, 7, -1, -5, 254], "mixed", 6, [0, 0, 0, 0, -8, -8, 248]),
        ([1, 3, 255], "mixed", 8, [0, 2, 254]),
        ([3, -3, 255], "excitatory", 8, [3, 0, 255]),
    ],
)
def test_effective_weights_match_lavas_measured_grids(weights, sign_mode, bits, delivered):
    assert effective_weights(np.array(weights), sign_mode, bits).tolist() == delivered


def test_sign_mode_follows_lavas_rule():
    assert sign_mode_of(np.array([0, 0])) == "excitatory"
    assert sign_mode_of(np.array([0, -2])) == "inhibitory"
    assert sign_mode_of(np.array([1, -2])) == "mixed"


def test_format_table_limits():
    assert FORMAT.delay_range == (0, 62)
    assert FORMAT.decay_range == (0, 4095)
    assert FORMAT.vth_range == (0, 131071)
    assert FORMAT.bias_mant_range == (-4096, 4095) and FORMAT.bias_exp_range == (0, 7)
    assert FORMAT.state_limit == 2**23


def hand_quantized_network(vth=100, threshold=2.0):
    # c_v = 64 * vth / threshold = 3200; c_u = c_v * (1 - alpha) * i_scale = 800 * I_SCALE.
    c_v = 64.0 * vth / threshold
    c_u = c_v * 0.25 * I_SCALE
    scale = 64.0 / c_u
    fmt = WeightFormat("loihi2", 9, 1, scale)
    integers = np.array([[10, -4, 0]])
    # biases in v LSBs: c_v * (1 - alpha) * bias = 800 * bias -> 12, 5000 (= 2500 * 2**1), -3 LSB
    bias = np.array([12.0, 5000.0, -3.0]) / (c_v * 0.25)
    lif = LIF("hidden", 3, tau_m_ms=TAU_M, tau_syn_ms=TAU_SYN, threshold=threshold, reset=0.0, bias=bias)
    readout = LeakyIntegrator("out", 1, tau_m_ms=TAU_M, tau_syn_ms=TAU_SYN)
    delays = np.array([[0, 5, 0]])
    projection = Projection(
        "in_hidden", "in", "hidden", fmt.to_float(integers), delays, 62, integer_weights=integers, weight_format=fmt
    )
    readout_fmt = WeightFormat("loihi2", 9, 0, 64.0 / (64.0 * 50 * 0.25 * I_SCALE))  # readout: c_v = 64 * 50
    to_readout = Projection(
        "hidden_out",
        "hidden",
        "out",
        readout_fmt.to_float(np.array([[7], [0], [-1]])),
        np.array([[62], [0], [1]]),
        62,
        integer_weights=np.array([[7], [0], [-1]]),
        weight_format=readout_fmt,
    )
    return Network("hand", 1.0, (SpikeSource("in", 1), lif, readout), (projection, to_readout))


def test_encode_gives_the_hand_computed_integers():
    model = integer_model(hand_quantized_network())
    hidden = model.neuron("hidden")
    assert (hidden.du, hidden.dv, hidden.vth) == (2047, 1024, 100)
    assert hidden.bias_mant.tolist() == [12, 2500, -3]
    assert hidden.bias_exp.tolist() == [0, 1, 0]
    assert hidden.v_per_unit == pytest.approx(3200.0)
    readout = model.neuron("out")
    assert readout.readout and readout.vth == READOUT_VTH and readout.v_per_unit == pytest.approx(3200.0)
    first, second = model.synapses
    assert first.weights.tolist() == [[10, -4, 0]] and first.weight_exp == 1 and first.sign_mode == "mixed"
    assert first.delays_steps.tolist() == [[0, 5, 0]]
    assert second.sign_mode == "mixed" and second.delays_steps.tolist() == [[62], [0], [1]]


def test_quantizer_rounds_onto_lavas_grid_and_reports_it():
    # vth = 64 and threshold 1: c_v = 4096, c_u = 4096 * 0.25 * I_SCALE; x = c_u * w / 64 = 16 * I_SCALE * w.
    targets = np.array([100.0, -300.0, 37.4])  # integer LSBs at exponent 0
    weights = targets / (16.0 * I_SCALE)
    network = Network(
        "q",
        1.0,
        (SpikeSource("in", 3), LIF("n", 1, tau_m_ms=TAU_M, tau_syn_ms=TAU_SYN)),
        (Projection("p", "in", "n", weights[:, None], np.array([[0.4], [1.6], [70.0]]), 80),),
    )
    quantized, report = quantize_network(network, vth=64)
    projection = quantized.projections[0]
    # -300 does not fit [-256, 254] at exponent 0; at exponent 1: 50, -150, 18.7 -> even grid 50, -150, 18
    assert projection.weight_format.exponent == 1
    assert projection.integer_weights[:, 0].tolist() == [50, -150, 18]
    assert projection.delays_steps[:, 0].tolist() == [0, 2, 62]
    kinds = {(c.field, c.kind): c.count for c in report.changes}
    assert kinds[("projections[0].weights", "rounded")] == 1
    assert kinds[("projections[0].delays_steps", "clipped")] == 1
    assert kinds[("projections[0].delays_steps", "rounded")] == 2
    model = integer_model(quantized)
    assert (model.neuron("n").du, model.neuron("n").dv, model.neuron("n").vth) == (2047, 1024, 64)


def test_quantizer_snaps_time_constants_to_du_dv():
    network = Network(
        "t",
        1.0,
        (SpikeSource("in", 1), LIF("n", 1, tau_m_ms=20.0, tau_syn_ms=5.0)),
        (Projection("p", "in", "n", np.ones((1, 1)), np.zeros((1, 1)), 0),),
    )
    quantized, report = quantize_network(network)
    # 4096 * (1 - exp(-1/20)) = 199.75 -> dv 200; 4095 - 4096 * exp(-1/5) = 741.4 -> du 741
    model = integer_model(quantized)
    assert (model.neuron("n").dv, model.neuron("n").du) == (200, 741)
    assert {c.field for c in report.changes} >= {"populations[1].tau_m_ms", "populations[1].tau_syn_ms"}


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(refractory_steps=2), "refractory"),
        (dict(rest=0.1, reset=0.1), "rest potential"),
        (dict(reset=-0.5), "resets v to 0"),
        (dict(tau_m_ms=np.array([10.0, 20.0])), "once per LIF process"),
        (dict(threshold=np.array([1.0, 2.0])), "once per LIF process"),
    ],
)
def test_what_loihi_cannot_do_raises_target_limit_error(change, message):
    network = Network(
        "x",
        1.0,
        (SpikeSource("in", 1), LIF("n", 2, **change)),
        (Projection("p", "in", "n", np.ones((1, 2)), np.zeros((1, 2)), 0),),
    )
    with pytest.raises(TargetLimitError, match=message):
        quantize_network(network)


def test_encode_refuses_unquantized_and_unrepresentable_networks():
    network = hand_quantized_network()
    float_net = Network(
        "f",
        1.0,
        network.populations,
        tuple(Projection(p.name, p.pre, p.post, p.weights, p.delays_steps, 62) for p in network.projections),
    )
    with pytest.raises(TargetLimitError, match="not quantized for loihi2"):
        integer_model(float_net)
    hidden = network.populations[1]
    from dataclasses import replace

    off_grid = replace(
        network, populations=(network.populations[0], replace(hidden, tau_m_ms=20.0), network.populations[2])
    )
    with pytest.raises(TargetLimitError, match="tau_m_ms"):
        integer_model(off_grid)


def test_integer_network_tracks_the_float_dynamics():
    """The scale mapping, end to end: the float refsim of the quantized network and its Loihi 2 mode
    agree on V and I (in network units) up to the chip's truncations, and spike at the same steps."""
    from neurodelay.refsim import simulate

    rng = np.random.default_rng(4)
    network = Network(
        "track",
        1.0,
        (
            SpikeSource("in", 20),
            LIF("hidden", 10, tau_m_ms=12.0, tau_syn_ms=4.0, threshold=1.0, bias=0.02),
            LeakyIntegrator("out", 3, tau_m_ms=20.0, tau_syn_ms=5.0),
        ),
        (
            Projection("a", "in", "hidden", rng.normal(0.1, 0.3, (20, 10)), rng.integers(0, 4, (20, 10)), 4),
            Projection("b", "hidden", "out", rng.normal(0.0, 0.5, (10, 3)), rng.integers(0, 4, (10, 3)), 4),
        ),
    )
    quantized, _ = quantize_network(network, vth=8192)
    inputs = rng.random((2, 120, 20)) < 0.15
    exact, chip = simulate(quantized, inputs, mode="float"), simulate(quantized, inputs, mode="loihi2")
    hidden_float, hidden_chip = exact.populations["hidden"], chip.populations["hidden"]
    assert hidden_float.spikes.sum() > 20
    assert np.array_equal(hidden_float.spikes, hidden_chip.spikes)
    for population in ("hidden", "out"):
        v_float = exact.populations[population].states["v"]
        v_chip = chip.populations[population].state_as_float("v")
        i_float = exact.populations[population].states["i_syn"]
        i_chip = chip.populations[population].state_as_float("u")
        assert np.max(np.abs(v_float - v_chip)) < 1e-3
        assert np.max(np.abs(i_float - i_chip)) < 1e-3


def test_a_population_without_inputs_keeps_the_quantizers_threshold():
    network = Network(
        "bias_only",
        1.0,
        (SpikeSource("in", 1), LIF("driven", 1), LIF("alone", 2, bias=1.5)),
        (Projection("p", "in", "driven", np.ones((1, 1)), np.zeros((1, 1)), 0),),
    )
    quantized, _ = quantize_network(network, vth=1000)
    alone = integer_model(quantized).neuron("alone")
    # v_per_unit = 64 * 1000; bias in v LSBs = 64000 * (1 - alpha) * 1.5 with 1 - alpha = dv / 4096
    assert alone.vth == 1000
    expected = 64000 * alone.dv / 4096 * 1.5
    assert abs(int(alone.bias_mant[0]) * 2 ** int(alone.bias_exp[0]) - expected) <= 2 ** int(alone.bias_exp[0]) / 2
