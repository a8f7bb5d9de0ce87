"""The refsim's SpiNNaker mode against integer traces computed independently here (scalar loops)."""

from __future__ import annotations

import numpy as np
import pytest

from neurodelay import refsim
from neurodelay.ir import LIF, Network, Projection, SpikeSource
from neurodelay.quant import spinnaker as sp
from neurodelay.refsim.spinnaker import multiply_s1615, simulate_model, wrap_int32

EXP_TC_TAU20_DT1 = 31170  # published on-chip value of exp(-1/20) in s16.15
ONE = 32768


def network(n_in: int, post: LIF, weights, delays, *, recurrent=None) -> Network:
    projections = [
        Projection("in_out", "in", "out", np.asarray(weights, float), np.asarray(delays, np.int64), int(np.max(delays)))
    ]
    if recurrent is not None:
        w, d = recurrent
        projections.append(
            Projection("out_out", "out", "out", np.asarray(w, float), np.asarray(d, np.int64), int(np.max(d)))
        )
    return Network("case", 1.0, (SpikeSource("in", n_in), post), tuple(projections))


def floor_mul(a: int, b: int) -> int:
    return (a * b) >> 15  # Python's >> on negative ints is floor


def test_constant_offset_current_trace():
    post = LIF("out", 1, tau_m_ms=20.0, tau_syn_ms=5.0, threshold=1.0, reset=0.0, rest=0.0, bias=1.5)
    quantized, _ = sp.quantize_network(network(1, post, [[0.1]], [[0]]), voltage_scale_mv=16.0)
    steps = 60
    recording = refsim.simulate(quantized, np.zeros((1, steps, 1), bool), mode="spinnaker")
    v_thresh, i_offset = 16 * ONE, 24 * ONE  # 1.0 and 1.5 units at 16 mV/unit
    v, trace, spikes = 0, [], []
    for step in range(steps):
        target = floor_mul(i_offset, ONE)  # R = 1.0, V_rest = 0
        v = target - floor_mul(EXP_TC_TAU20_DT1, target - v)
        if v >= v_thresh:
            v = 0
            spikes.append(step)
        trace.append(v)
    assert recording.populations["out"].states["v"][0, :, 0].tolist() == trace
    assert np.nonzero(recording.spikes("out")[0, :, 0])[0].tolist() == spikes
    assert len(spikes) >= 2
    assert recording.populations["out"].state_scales["v"] == 1 / (ONE * 16.0)


def test_refractory_steps_hold_v_at_reset():
    post = LIF("out", 1, tau_m_ms=20.0, tau_syn_ms=5.0, threshold=1.0, reset=0.0, bias=3.0, refractory_steps=2)
    quantized, _ = sp.quantize_network(network(1, post, [[0.1]], [[0]]), voltage_scale_mv=16.0)
    steps = 40
    recording = refsim.simulate(quantized, np.zeros((1, steps, 1), bool), mode="spinnaker")
    v, counter, trace, spikes = 0, 0, [], []
    for step in range(steps):
        if counter <= 0:
            target = 48 * ONE
            v = target - floor_mul(EXP_TC_TAU20_DT1, target - v)
        else:
            counter -= 1
        if v >= 16 * ONE:
            v, counter = 0, 2
            spikes.append(step)
        trace.append(v)
    assert recording.populations["out"].states["v"][0, :, 0].tolist() == trace
    got = np.nonzero(recording.spikes("out")[0, :, 0])[0].tolist()
    assert got == spikes and len(spikes) >= 3
    assert all(b - a >= 3 for a, b in zip(spikes, spikes[1:]))


def test_latency_through_delays_on_core_and_through_the_delay_extension():
    # 256 neurons per core leave D = 32 slots: sPyNNaker delay 32 is the on-core maximum (ring field 0),
    # 41 needs one delay-extension stage and 71 two (pre size == post core size, as required)
    ir_delays = [1, 2, 31, 40, 70]
    weights = np.zeros((256, 256))
    delays = np.zeros((256, 256), np.int64)
    for j, d in enumerate(ir_delays):
        weights[0, j], delays[0, j] = 0.01, d
    post = LIF("out", 256, tau_m_ms=20.0, tau_syn_ms=5.0)
    quantized, report = sp.quantize_network(network(256, post, weights, delays), neurons_per_core=256)
    layout = sp.integer_model(quantized)
    assert layout.populations["out"].slots == 32 and report.delay_extensions == ["out"]
    inputs = np.zeros((1, 90, 256), bool)
    inputs[0, 3, 0] = True
    recording = refsim.simulate(quantized, inputs, mode="spinnaker")
    i_exc = recording.populations["out"].states["i_exc"][0]
    v = recording.populations["out"].states["v"][0]
    word = int(quantized.projections[0].integer_weights[0, 0])
    shift = report.shifts["out"]
    init = int(layout.populations["out"].init[0])
    first_current = ((word << shift) * init) >> 32
    for j, d in enumerate(ir_delays):
        arrival = 3 + 1 + d  # IR: t + 1 + d
        assert np.all(i_exc[:arrival, j] == 0), d
        assert i_exc[arrival, j] == first_current, d
        assert np.all(v[:arrival, j] == 0) and v[arrival, j] > 0, d
    assert np.all(i_exc[:, len(ir_delays) :] == 0)


def test_ring_buffer_slot_saturates_at_16_bits():
    post = LIF("out", 1, tau_m_ms=20.0, tau_syn_ms=5.0, threshold=1000.0)
    quantized, report = sp.quantize_network(
        network(3, post, [[1.0], [1.0], [1.0]], [[0], [0], [0]]), voltage_scale_mv=1.0, shift_policy="largest_weight"
    )
    assert report.shifts == {"out": 0}
    assert quantized.projections[0].integer_weights[:, 0].tolist() == [32768] * 3
    layout = sp.integer_model(quantized)
    inputs = np.zeros((1, 4, 3), bool)
    inputs[0, 0] = True
    recording, counters = simulate_model(layout, {"in": inputs})
    init = int(layout.populations["out"].init[0])
    assert recording.populations["out"].states["i_exc"][0, 1, 0] == (65535 * init) >> 32  # not 3 * 32768
    assert counters.ring_buffer_saturations["out"] == 1
    inputs[0, 0, 1:] = False  # one synapse alone does not saturate
    recording, counters = simulate_model(layout, {"in": inputs})
    assert recording.populations["out"].states["i_exc"][0, 1, 0] == (32768 * init) >> 32
    assert counters.ring_buffer_saturations["out"] == 0


def scalar_neuron(
    steps: int,
    arrivals: dict[int, int],
    recurrent_word: int,
    recurrent_delay: int,
    *,
    shift: int,
    init: int,
    decay: int,
    v_thresh: int,
) -> tuple[list[int], list[int], list[int]]:
    """One IF_curr_exp neuron (tau_m 20 ms, dt 1 ms, rest/reset 0, no offset) with excitatory input
    words arriving at given steps and a self-connection of sPyNNaker delay ``recurrent_delay``."""
    pending = dict(arrivals)
    current, v, v_trace, i_trace, spikes = 0, 0, [], [], []
    for step in range(steps):
        slot = min(pending.pop(step, 0), 0xFFFF)
        current += ((slot << shift) * init) >> 32
        target = floor_mul(current, ONE)
        v = target - floor_mul(EXP_TC_TAU20_DT1, target - v)
        i_trace.append(current)
        if v >= v_thresh:
            v = 0
            spikes.append(step)
            pending[step + recurrent_delay] = pending.get(step + recurrent_delay, 0) + recurrent_word
        v_trace.append(v)
        current = (current * decay) >> 32
    return v_trace, i_trace, spikes


def test_recurrent_self_connection():
    post = LIF("out", 1, tau_m_ms=20.0, tau_syn_ms=5.0, threshold=1.0, reset=0.0)
    quantized, report = sp.quantize_network(
        network(1, post, [[30.0]], [[0]], recurrent=([[2.0]], [[2]])), voltage_scale_mv=16.0
    )
    layout = sp.integer_model(quantized)
    population = layout.populations["out"]
    inputs = np.zeros((1, 30, 1), bool)
    inputs[0, 0, 0] = True
    recording = refsim.simulate(quantized, inputs, mode="spinnaker")
    input_word = int(quantized.projections[0].integer_weights[0, 0])
    recurrent_word = int(quantized.projections[1].integer_weights[0, 0])
    v_trace, i_trace, spikes = scalar_neuron(
        30,
        {1: input_word},
        recurrent_word,
        3,
        shift=report.shifts["out"],
        init=int(population.init[0]),
        decay=int(population.decay[0]),
        v_thresh=16 * ONE,
    )
    assert recording.populations["out"].states["v"][0, :, 0].tolist() == v_trace
    assert recording.populations["out"].states["i_syn"][0, :, 0].tolist() == i_trace
    assert np.nonzero(recording.spikes("out")[0, :, 0])[0].tolist() == spikes
    assert len(spikes) >= 3  # the loop keeps itself going


def test_membrane_rounding_switch_and_ties():
    assert multiply_s1615(np.array([1, -1]), np.array([0x4000, 0x4000])).tolist() == [0, -1]
    assert multiply_s1615(np.array([1, -1]), np.array([0x4000, 0x4000]), "nearest").tolist() == [1, 0]
    assert wrap_int32(np.array([2**31, -(2**31) - 1])).tolist() == [-(2**31), 2**31 - 1]


def test_rounding_modes_differ_on_a_trace():
    post = LIF("out", 3, tau_m_ms=20.0, tau_syn_ms=5.0, bias=np.array([0.3, -0.2, 0.7]))
    quantized, _ = sp.quantize_network(network(1, post, [[0.1, 0.2, -0.3]], [[0, 1, 2]]))
    layout = sp.integer_model(quantized)
    inputs = {"in": np.random.default_rng(0).random((2, 50, 1)) < 0.3}
    floor_run, _ = simulate_model(layout, inputs)
    nearest_run, _ = simulate_model(layout, inputs, membrane_rounding="nearest")
    assert floor_run.executor == "refsim-spinnaker"
    assert not np.array_equal(floor_run.populations["out"].states["v"], nearest_run.populations["out"].states["v"])


def test_batch_items_are_independent():
    post = LIF("out", 2, tau_m_ms=10.0, tau_syn_ms=3.0, bias=0.5)
    quantized, _ = sp.quantize_network(network(2, post, [[3.0, -1.0], [0.5, 2.0]], [[0, 3], [5, 1]]))
    inputs = np.random.default_rng(1).random((3, 40, 2)) < 0.2
    together = refsim.simulate(quantized, inputs, mode="spinnaker")
    for item in range(3):
        alone = refsim.simulate(quantized, inputs[item : item + 1], mode="spinnaker")
        for key in ("v", "i_syn"):
            assert np.array_equal(
                alone.populations["out"].states[key][0], together.populations["out"].states[key][item]
            )


def test_not_quantized_for_spinnaker_is_refused():
    post = LIF("out", 1)
    with pytest.raises(Exception, match="quantize"):
        refsim.simulate(network(1, post, [[0.1]], [[0]]), np.zeros((1, 5, 1), bool), mode="spinnaker")


def test_integer_mode_follows_the_float_dynamics_closely():
    """Loose cross-check against the float mode (an independent implementation of the IR): the
    integer traces differ only by s16.15 resolution and the chip's table exponentials."""
    from neurodelay.ir import LeakyIntegrator

    rng = np.random.default_rng(7)
    readout = LeakyIntegrator("out", 4, tau_m_ms=20.0, tau_syn_ms=5.0, bias=0.1)
    net = Network(
        "float_check",
        1.0,
        (SpikeSource("in", 6), readout),
        (Projection("in_out", "in", "out", rng.normal(0, 0.5, (6, 4)), rng.integers(0, 6, (6, 4)), 5),),
    )
    quantized, _ = sp.quantize_network(net, voltage_scale_mv=16.0)
    inputs = rng.random((2, 120, 6)) < 0.2
    integer = refsim.simulate(quantized, inputs, mode="spinnaker").populations["out"]
    floating = refsim.simulate(quantized, inputs, mode="float").populations["out"]
    scale = np.abs(floating.states["v"]).max()
    assert scale > 0.5
    assert np.abs(integer.state_as_float("v") - floating.states["v"]).max() < 2.5e-4 * scale
    assert (
        np.abs(integer.state_as_float("i_syn") - floating.states["i_syn"]).max()
        < 2.5e-4 * np.abs(floating.states["i_syn"]).max()
    )
