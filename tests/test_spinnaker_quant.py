"""SpiNNaker format table, chip constants and quantizer against published and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from neurodelay.errors import TargetLimitError, ValidationError
from neurodelay.exporters.spinnaker.pynn_model import pinned_summed_weight
from neurodelay.ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from neurodelay.ir.random_nets import random_network
from neurodelay.quant import spinnaker as sp

# Entries of __exp_hi[26] and __expm1_mid[16] as published in the SpiNNaker C library (stdfix-exp.c).
PUBLISHED_EXP_HI = [
    9708,
    26389,
    71733,
    194991,
    530041,
    1440801,
    3916503,
    10646160,
    28939262,
    78665070,
    213833830,
    581260615,
    1580030169,
    4294967296,
    11674931555,
    31735754293,
    86266724208,
    234497268814,
    637429664642,
    1732713474316,
    4710003551159,
    12803117065094,
    34802480465680,
    94602950235157,
    257157480542844,
    699026506411923,
]
PUBLISHED_EXPM1_MID = [
    0,
    260218914,
    504671961,
    734314346,
    950043403,
    1152702096,
    1343082321,
    1521927990,
    1689937949,
    1847768698,
    1996036966,
    2135322113,
    2266168400,
    2389087112,
    2504558555,
    2613033936,
]


def test_exp_tables_equal_the_published_entries():
    assert sp.EXP_INTEGER_POWERS_U3232 == PUBLISHED_EXP_HI
    assert sp.EXPM1_SIXTEENTHS_U032 == PUBLISHED_EXPM1_MID


@pytest.mark.parametrize(
    "dt, tau_m, exp_tc", [(1.0, 20.0, 31170), (0.1, 20.0, 32605), (1.0, 10.0, 29650), (1.0, 5.0, 26828)]
)
def test_membrane_factor_equals_the_chips_published_values(dt, tau_m, exp_tc):
    step = int(sp.encode_s1615(dt, "dt"))
    assert sp.expk_bits(-sp.kdivk(step, int(sp.encode_s1615(tau_m, "tau_m")))) == exp_tc


def test_kdivk_truncates():
    assert sp.kdivk(32768, 20 * 32768) == 1638  # 1638.4
    assert sp.kdivk(5 * 32768, 32768) == 5 * 32768


def test_synaptic_init_for_tau_5ms_at_1ms():
    decay, init = sp.synaptic_decay_and_init(5 * 32768, 32768)
    # ts/tau = kdivk(1, 5) = 6553 bits (6553.6 truncated); decay = e^(-6553/32768) in u0.32, up to the
    # ~1e-6 error of the chip's quadratic for the last 11 fraction bits
    assert abs(decay / 2**32 - math.exp(-6553 / 32768)) < 2e-6
    # init = (tau/ts) * (1.0ulr - decay) with 1.0ulr = 2^32 - 1; tau/ts = 5.0 exactly
    assert init == 5 * (2**32 - 1 - decay)
    assert init / 2**32 == pytest.approx(0.9063, abs=1e-4)


def test_expulr_and_expk_agree_for_negative_arguments():
    for argument in (-1, -100, -6553, -32768, -100000, -340695):
        assert sp.expk_bits(argument) == (sp.exp_u3232(argument) >> 17)
        assert sp.expulr_bits(argument) == sp.exp_u3232(argument)  # < 1, so no whole part
        assert abs(sp.expulr_bits(argument) / 2**32 - math.exp(argument / 32768)) < 2e-6
    assert sp.expulr_bits(-340696) == 0


@pytest.mark.parametrize("tau_refrac, dt, steps", [(0.1, 1.0, 1), (2.0, 1.0, 2), (0.0, 1.0, 0), (3.0, 1.0, 3)])
def test_refractory_steps_are_the_ceiling(tau_refrac, dt, steps):
    assert sp.refractory_timesteps(int(sp.encode_s1615(tau_refrac, "t")), int(sp.encode_s1615(dt, "dt"))) == steps


@pytest.mark.parametrize("summed, shift", [(0.0, 0), (0.5, 0), (1.0, 1), (3.0, 2), (4.0, 3), (4.1, 3), (1000.0, 10)])
def test_spynnaker_shift_rule(summed, shift):
    assert sp.spynnaker_shift_rule(summed) == shift


def test_the_exporters_pinned_summed_weight_gives_each_shift():
    for shift in range(17):
        assert sp.spynnaker_shift_rule(pinned_summed_weight(shift)) == shift


def test_delay_slots_per_core():
    assert sp.delay_slots_available(256, 256) == 32
    assert sp.delay_slots_available(5, 256) == 1024
    assert sp.delay_slots_available(1000, 64) == 128
    assert sp.delay_slots(256, 256, 20) == 32  # 2^n_bits(20) = 32
    assert sp.delay_slots(256, 256, 100) == 32  # capped by the core
    assert sp.delay_slots(5, 256, 20) == 32
    assert sp.max_delay_steps(32) == 288
    stage, row = sp.split_delay(np.array([1, 32, 33, 64, 65, 288]), 32)
    assert stage.tolist() == [0, 0, 1, 1, 2, 8] and row.tolist() == [1, 32, 1, 32, 1, 32]


def test_auto_neurons_per_core_prefers_fitting_the_delays_on_the_core():
    assert sp.auto_neurons_per_core(200, 101) == 64  # 256 -> 32 slots, 128 -> 64, 64 -> 128
    assert sp.auto_neurons_per_core(200, 20) == 256
    assert sp.auto_neurons_per_core(200, 5000) == sp.MIN_AUTO_NEURONS_PER_CORE


def one_layer(weights, delays, *, n_post=1, post=None, dt=1.0, max_delay=None) -> Network:
    weights = np.asarray(weights, float)
    delays = np.asarray(delays)
    post = post or LIF("out", n_post, tau_m_ms=20.0, tau_syn_ms=5.0, threshold=1.0, reset=0.0)
    return Network(
        "one_layer",
        dt,
        (SpikeSource("in", weights.shape[0]), post),
        (
            Projection(
                "in_out",
                "in",
                "out",
                weights,
                delays,
                int(max_delay if max_delay is not None else np.ceil(np.max(delays))),
            ),
        ),
    )


def test_weight_words_for_a_known_shift():
    network = one_layer([[0.123456], [2.9]], [[0], [0]])
    quantized, report = sp.quantize_network(network, voltage_scale_mv=1.0)
    # worst-case sum 3.023456 nA: 3.023456 * 2^15 = 99073 > 65535, * 2^14 = 49537 fits -> shift 1
    assert report.shifts == {"out": 1}
    projection = quantized.projections[0]
    assert projection.integer_weights[:, 0].tolist() == [2023, 47514]  # rint(w * 2^14)
    assert projection.weight_format.exponent == 1 - 15
    assert projection.weights[0, 0] == 2023 / 2**14
    assert report.weights_rounded == 2


def test_signs_and_voltage_scale():
    network = one_layer([[0.5], [-0.25]], [[0], [0]])
    quantized, report = sp.quantize_network(network, voltage_scale_mv=16.0)
    # 8 nA and 4 nA: the larger type sum (8 nA) needs 8 * 2^15 = 262144 -> shift 3 (32768 words)
    assert report.shifts == {"out": 3}
    assert quantized.projections[0].integer_weights[:, 0].tolist() == [32768, -16384]
    layout = sp.integer_model(quantized)
    receptors = {s.receptor: (s.pre.tolist(), s.weight_words.tolist()) for s in layout.synapses}
    assert receptors == {"excitatory": ([0], [32768]), "inhibitory": ([1], [16384])}


def test_largest_weight_policy_counts_neurons_that_may_saturate():
    network = one_layer([[1.0], [1.0], [1.0]], [[0], [0], [0]])
    _, report = sp.quantize_network(network, voltage_scale_mv=1.0, shift_policy="largest_weight")
    assert report.shifts == {"out": 0}  # 1 nA = 32768 words at shift 0
    assert report.neurons_that_may_saturate == {"out": 1}  # 3 nA > 65535 words
    _, report = sp.quantize_network(network, voltage_scale_mv=1.0)
    assert report.neurons_that_may_saturate == {"out": 0}


def test_float_delays_are_rounded_half_up_and_counted():
    network = one_layer([[0.1], [0.1], [0.1]], [[2.4], [2.5], [3.0]], max_delay=4)
    quantized, report = sp.quantize_network(network)
    assert quantized.projections[0].delays_steps[:, 0].tolist() == [2, 3, 3]
    assert report.delays_rounded == 2
    layout = sp.integer_model(quantized)
    assert sorted(layout.synapses[0].delay_steps.tolist()) == [3, 4, 4]  # IR delay + 1


def test_pynn_parameters_of_a_lif():
    post = LIF(
        "out", 2, tau_m_ms=10.0, tau_syn_ms=4.0, threshold=1.0, reset=0.25, rest=-0.125, bias=0.0625, refractory_steps=2
    )
    parameters = sp.pynn_cell_parameters(post, 1.0, 16.0)
    expected = {
        "tau_m": 10.0,
        "cm": 10.0,
        "v_rest": -2.0,
        "v_reset": 4.0,
        "v_thresh": 16.0,
        "tau_syn_E": 4.0,
        "tau_syn_I": 4.0,
        "tau_refrac": 2.0,
        "i_offset": 1.0,
        "v": -2.0,
    }
    assert {key: value.tolist() for key, value in parameters.items()} == {k: [v, v] for k, v in expected.items()}
    bits, derived = sp.chip_constants("out", parameters, 32768)
    assert derived["r_membrane"].tolist() == [32768, 32768]  # R = tau_m / cm = 1 MOhm exactly
    assert derived["t_refract"].tolist() == [2, 2]


def test_leaky_integrator_never_reaches_its_threshold_by_construction():
    readout = LeakyIntegrator("out", 1, tau_m_ms=10.0, tau_syn_ms=4.0)
    parameters = sp.pynn_cell_parameters(readout, 1.0, 16.0)
    assert sp.encode_s1615(parameters["v_thresh"], "v_thresh").tolist() == [2**31 - 1]
    assert parameters["tau_refrac"].tolist() == [0.0]


def test_refractory_steps_that_the_chip_cannot_express_are_rejected():
    post = LIF("out", 1, refractory_steps=2)
    network = one_layer([[0.1]], [[0]], post=post, dt=0.3)
    with pytest.raises(TargetLimitError, match="refractory_steps"):
        sp.quantize_network(network)


def test_out_of_range_parameters_name_the_field():
    post = LIF("out", 1, threshold=5000.0, reset=0.0)
    with pytest.raises(TargetLimitError, match=r"populations\[out\]\.v_thresh"):
        sp.quantize_network(one_layer([[0.1]], [[0]], post=post), voltage_scale_mv=16.0)


def test_bad_options_are_validation_errors():
    network = one_layer([[0.1]], [[0]])
    with pytest.raises(ValidationError, match="shift_policy"):
        sp.quantize_network(network, shift_policy="nope")
    with pytest.raises(ValidationError, match="voltage_scale_mv"):
        sp.quantize_network(network, voltage_scale_mv=-1.0)
    with pytest.raises(ValidationError, match="neurons_per_core"):
        sp.quantize_network(network, neurons_per_core=1000)


def big_post(n_pre: int, delay: int, *, n_post: int = 256) -> Network:
    weights = np.zeros((n_pre, n_post))
    weights[0, 0] = 0.01
    delays = np.zeros((n_pre, n_post), np.int64)
    delays[0, 0] = delay
    post = LIF("out", n_post)
    return one_layer(weights, delays, post=post, max_delay=delay)


def test_delays_beyond_the_core_use_a_delay_extension():
    # 256 neurons on a core leave 32 delay slots; IR delay 287 -> sPyNNaker 288 = 9 * 32
    quantized, report = sp.quantize_network(big_post(256, 287), neurons_per_core=256)
    assert report.delay_extensions == ["out"]
    layout = sp.integer_model(quantized)
    assert layout.populations["out"].slots == 32
    assert layout.synapses[0].delay_steps.tolist() == [288]


def test_delays_beyond_the_delay_extension_raise_naming_projection_delay_and_limit():
    with pytest.raises(TargetLimitError) as raised:
        sp.quantize_network(big_post(256, 288), neurons_per_core=256)
    message = str(raised.value)
    assert "projections[in_out]" in message and "288" in message and "limit of 288 steps" in message


def test_multi_stage_extension_from_a_smaller_pre_population_is_rejected():
    # sPyNNaker 1!7.4.1 loses the stage-2 rows when the pre size differs from the post core's size
    sp.quantize_network(big_post(20, 60), neurons_per_core=256)  # one stage: accepted
    with pytest.raises(TargetLimitError, match="delay-extension stage"):
        sp.quantize_network(big_post(20, 70), neurons_per_core=256)


def test_auto_neurons_per_core_avoids_the_extension():
    quantized, report = sp.quantize_network(big_post(20, 70))
    assert report.neurons_per_core == {"out": 64} and report.delay_extensions == []
    assert sp.integer_model(quantized).populations["out"].slots == 128


def test_timestep_must_be_whole_microseconds():
    with pytest.raises(TargetLimitError, match="microseconds"):
        sp.quantize_network(one_layer([[0.1]], [[0]], dt=0.0005))


def test_layout_takes_shifts_from_the_weight_formats_and_checks_them():
    from dataclasses import replace

    source = SpikeSource("in", 2)
    post = LIF("out", 1)
    network = Network(
        "two",
        1.0,
        (source, SpikeSource("in2", 1), post),
        (
            Projection("a", "in", "out", np.array([[0.5], [0.25]]), np.zeros((2, 1), np.int64), 0),
            Projection("b", "in2", "out", np.array([[0.125]]), np.zeros((1, 1), np.int64), 0),
        ),
    )
    quantized, report = sp.quantize_network(network)
    assert sp.ring_buffer_shifts(quantized) == report.shifts
    b = quantized.projection("b")
    coarser = replace(b.weight_format, exponent=b.weight_format.exponent + 1)
    changed = quantized.with_projections(
        [quantized.projection("a"), replace(b, weight_format=coarser, weights=coarser.to_float(b.integer_weights))]
    )
    with pytest.raises(ValidationError, match="different ring-buffer shifts"):
        sp.integer_model(changed)


def test_reset_that_rounds_onto_the_threshold_is_rejected():
    post = LIF("out", 1, threshold=1.0, reset=1.0 - 1e-7)
    with pytest.raises(TargetLimitError, match="reset and threshold are equal"):
        sp.quantize_network(one_layer([[0.1]], [[0]], post=post), voltage_scale_mv=1.0)


def test_the_integer_model_is_built_once_per_network():
    network = sp.quantize_network(random_network(3, integer_delays=True))[0]
    assert sp.integer_model(network) is sp.integer_model(network)
    twin = network.with_projections(network.projections)  # an equal but distinct network object
    assert sp.integer_model(twin) is not sp.integer_model(network)
    assert (
        sp.integer_model(twin).synapses[0].weight_words.tolist()
        == sp.integer_model(network).synapses[0].weight_words.tolist()
    )
