"""The emulated core (sPyNNaker's IF_curr_exp.aplx under unicorn) against hand-computed traces.

Expected values come from docs/spinnaker.md §S1 and docs/emulated_core.md (load table, addresses and
exp_TC test vectors of the 1!7.4.1 binary) and from the integer recipe of docs/spinnaker.md §S2 written out
below in plain Python ints, step by step; nothing expected is produced by the emulator itself,
except the synaptic decay/init factors, which are first checked against independent values.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pytest

from neurodelay.backends.spinnaker.emulated import (
    CorePopulation,
    EmulatedCoreExecutor,
    EmulatedNetwork,
    SourcePopulation,
    SynapticMatrix,
    uniform_parameters,
)
from neurodelay.backends.spinnaker.emulated.aplx import read_aplx
from neurodelay.backends.spinnaker.emulated.core import EmulatedCore, application_path
from neurodelay.backends.spinnaker.emulated.description import IfCurrExpParameters, to_s1615
from neurodelay.backends.spinnaker.emulated.signatures import checked_layout, locate
from neurodelay.errors import ExecutorError, TargetLimitError, ValidationError

ONE = 1 << 15


def floor_mul(a: int, b: int) -> int:
    """s16.15 * s16.15, bits 46..15 of the product (floor), as the 7.4.1 binary computes."""
    return (a * b) >> 15


def decay(x: int, factor: int) -> int:
    return (x * factor) >> 32


def core_of(parameters: IfCurrExpParameters, shifts=(0, 0)) -> EmulatedCore:
    return EmulatedCore(parameters, shifts)


# ----- the binary and its signatures ------------------------------------------------------------
def test_load_table_matches_the_published_layout_of_7_4_1():
    image = read_aplx(application_path())
    assert [(s.address, len(s.data), s.zero_fill) for s in image.sections] == [
        (0x0, 0x73B8, False),
        (0x400000, 0xF0, False),
        (0x4000F0, 0x97C, True),
    ]
    assert image.entry_address == 0 and (image.bss_start, image.bss_end) == (0x4000F0, 0x4000F0 + 0x97C)


def test_routines_are_found_by_structure_where_the_reference_notes_put_them():
    layout = locate(read_aplx(application_path()))
    assert (layout.neuron_update, layout.neuron_transfer, layout.load_parameters, layout.globals_anchor) == (
        0x220C,
        0x2928,
        0x16B4,
        0x400168,
    )
    assert layout.timer_callback == 0x3F4  # calls the transfer at 0x450 (disassembly)
    assert (layout.process_synaptic_row, layout.synapse_anchor) == (0xC08, 0x400114)


def test_unknown_release_is_refused_with_what_was_found():
    image = read_aplx(application_path())
    with pytest.raises(ExecutorError, match=r"9\.9\.9 is not a release.*located: update 0x220c"):
        checked_layout(image, "9.9.9")


def test_a_binary_without_the_floor_multiply_idiom_is_refused(tmp_path):
    blob = bytearray(application_path().read_bytes())
    code_offset = 0x40
    for address in (0x25F4, 0x260C):  # the two `lsl rX, rHi, #17` of the membrane update
        word = struct.unpack_from("<I", blob, code_offset + address)[0]
        assert word & 0xFF0 == 0x880  # lsl #17 (shift field 10001, type 00)
        struct.pack_into("<I", blob, code_offset + address, (word & ~0xF80) | (16 << 7))  # lsl #16
    changed = tmp_path / "IF_curr_exp.aplx"
    changed.write_bytes(bytes(blob))
    with pytest.raises(ExecutorError, match="neuron update .* matched 0 routines"):
        checked_layout(read_aplx(changed), "1!7.4.1")


def test_a_file_that_is_not_an_aplx_image_is_refused(tmp_path):
    bogus = tmp_path / "bogus.aplx"
    bogus.write_bytes(b"\x07\x00\x00\x00" + bytes(60))
    with pytest.raises(ExecutorError, match="op 0x7"):
        read_aplx(bogus)


# ----- constants derived by the binary's own loader ------------------------------------------------
@pytest.mark.parametrize(
    "timestep_bits, tau_m, expected_exp_tc",
    [(ONE, 20.0, 31170), (3277, 20.0, 32605), (ONE, 10.0, 29650), (ONE, 5.0, 26828)],
)
def test_exp_tc_matches_the_published_vectors(timestep_bits, tau_m, expected_exp_tc):
    parameters = uniform_parameters(2, tau_m_ms=tau_m)
    parameters = IfCurrExpParameters(**{**vars(parameters), "timestep_ms": timestep_bits})
    constants = core_of(parameters).derived_constants()
    assert constants.exp_tc.tolist() == [expected_exp_tc] * 2
    assert constants.r_membrane.tolist() == [to_s1615(tau_m, "tau_m")] * 2  # tau_m / cm with cm = 1


@pytest.mark.parametrize("tau_refrac, steps", [(0.0, 0), (3277 / ONE, 1), (1.0, 1), (2.0, 2), (2.5, 3)])
def test_refractory_steps_are_the_ceiling_of_tau_refrac_over_dt(tau_refrac, steps):
    parameters = uniform_parameters(1)
    parameters = IfCurrExpParameters(**{**vars(parameters), "tau_refrac_ms": np.array([round(tau_refrac * ONE)])})
    assert core_of(parameters).derived_constants().t_refract.tolist() == [steps]


@pytest.mark.parametrize("tau", [1.0, 2.0, 3.5, 5.0, 7.25, 8.0, 20.0])
def test_derived_constants_equal_the_independent_table_exp_of_the_refsim(tau):
    """The loader's decay/init/exp_TC against neurodelay.quant.spinnaker's own table-exp implementation
    (written from the C library's algorithm, not from this binary), and against float exp."""
    from neurodelay.quant import spinnaker as chip

    tau_bits = to_s1615(tau, "tau")
    constants = core_of(uniform_parameters(1, tau_syn_e_ms=tau, tau_syn_i_ms=tau, tau_m_ms=tau)).derived_constants()
    expected_decay, expected_init = chip.synaptic_decay_and_init(tau_bits, ONE)
    assert [int(constants.decay_exc[0]), int(constants.init_exc[0])] == [expected_decay, expected_init]
    assert [int(constants.decay_inh[0]), int(constants.init_inh[0])] == [expected_decay, expected_init]
    assert int(constants.exp_tc[0]) == chip.expk_bits(-chip.kdivk(ONE, tau_bits))
    ratio = (ONE << 15) // tau_bits  # kdivk(dt, tau), truncated
    assert abs(int(constants.decay_exc[0]) / 2.0**32 - math.exp(-ratio / ONE)) < 2e-6
    assert int(constants.init_exc[0]) == (((tau_bits << 15) // ONE) * (0xFFFFFFFF - expected_decay)) >> 15


# ----- hand traces ------------------------------------------------------------------------------
def run_single(parameters, shifts=(0, 0), matrices=(), source_spikes=None, steps=60):
    sources = () if source_spikes is None else (SourcePopulation("input", source_spikes.shape[1]),)
    network = EmulatedNetwork("hand", 1.0, sources, (CorePopulation("cell", parameters, shifts),), tuple(matrices))
    executor = EmulatedCoreExecutor()
    inputs = {} if source_spikes is None else {"input": source_spikes[None]}
    recording = executor.run_description(network, inputs, steps=steps)
    return recording.populations["cell"], executor.provenance


def test_constant_offset_current_with_refractoriness_follows_the_floor_recipe():
    parameters = uniform_parameters(1, i_offset_na=1.0, tau_refrac_ms=2.0)
    cell, _ = run_single(parameters, steps=120)
    r, exp_tc = 20 * ONE, 31170
    v, refractory, rest, threshold, reset = -65 * ONE, 0, -65 * ONE, -50 * ONE, -65 * ONE
    expected_v, expected_spikes = [], []
    for _ in range(120):
        if refractory <= 0:
            alpha = floor_mul(ONE, r) + rest  # I = I_offset = 1 nA
            v = alpha - floor_mul(exp_tc, alpha - v)
        else:
            refractory -= 1
        spike = v >= threshold
        if spike:
            v, refractory = reset, 2
        expected_v.append(v)
        expected_spikes.append(spike)
    assert sum(expected_spikes) >= 3  # the case exercises reset and refractoriness
    assert cell.spikes[0, :, 0].tolist() == expected_spikes
    assert cell.states["v"][0, :, 0].tolist() == expected_v
    first = expected_spikes.index(True)
    assert cell.states["v"][0, first : first + 3, 0].tolist() == [reset] * 3  # held for T_refract steps


def test_one_input_spike_through_delays_1_and_2_arrives_at_t_plus_d():
    """Delay 2 equals the core's D (2 slots), so it is stored as delay field 0 in the row."""
    parameters = uniform_parameters(2)
    spikes = np.zeros((30, 1), bool)
    spikes[3, 0] = True
    weights = np.array([[20000, 20000]], np.uint16)
    delays = np.array([[1, 2]])
    matrix = SynapticMatrix("in_cell", "input", "cell", "excitatory", weights, delays)
    cell, _ = run_single(parameters, (1, 0), [matrix], spikes, steps=30)
    constants = core_of(parameters).derived_constants()
    decay_e, init_e = int(constants.decay_exc[0]), int(constants.init_exc[0])
    for neuron, delay in ((0, 1), (1, 2)):
        arrival = 3 + delay
        i_exc, v, expected_i, expected_v = 0, -65 * ONE, [], []
        for t in range(30):
            if t == arrival:
                i_exc += decay(20000 << 1, init_e)  # shift 1: the slot sum << 1
            alpha = floor_mul(i_exc, 20 * ONE) - 65 * ONE
            v = alpha - floor_mul(31170, alpha - v)
            expected_i.append(i_exc)
            expected_v.append(v)
            i_exc = decay(i_exc, decay_e)
        assert cell.states["i_exc"][0, :, neuron].tolist() == expected_i
        assert cell.states["v"][0, :, neuron].tolist() == expected_v
        assert cell.states["i_exc"][0, arrival - 1, neuron] == 0 and expected_i[arrival] > 0


def test_inhibitory_spike_train_hyperpolarises():
    parameters = uniform_parameters(1, tau_syn_i_ms=8.0)
    spikes = np.zeros((40, 1), bool)
    spikes[[2, 5, 6, 20], 0] = True
    matrix = SynapticMatrix("inh", "input", "cell", "inhibitory", np.array([[3000]], np.uint16), np.array([[3]]))
    cell, _ = run_single(parameters, (0, 2), [matrix], spikes, steps=40)
    constants = core_of(parameters).derived_constants()
    decay_i, init_i = int(constants.decay_inh[0]), int(constants.init_inh[0])
    i_inh, v, expected_i, expected_v = 0, -65 * ONE, [], []
    arrivals = {5, 8, 9, 23}
    for t in range(40):
        if t in arrivals:
            i_inh += decay(3000 << 2, init_i)
        alpha = floor_mul(-i_inh, 20 * ONE) - 65 * ONE
        v = alpha - floor_mul(31170, alpha - v)
        expected_i.append(i_inh)
        expected_v.append(v)
        i_inh = decay(i_inh, decay_i)
    assert cell.states["i_inh"][0, :, 0].tolist() == expected_i
    assert cell.states["v"][0, :, 0].tolist() == expected_v
    assert min(expected_v) < -65 * ONE and not cell.spikes.any()


def test_a_saturated_slot_holds_0xffff_and_each_saturating_synapse_is_counted():
    """Three synapses of 40000 into one slot: 40000, then 80000 -> 0xFFFF (1), then again (2)."""
    parameters = uniform_parameters(1)
    spikes = np.zeros((10, 3), bool)
    spikes[1, :] = True
    matrix = SynapticMatrix(
        "in_cell", "input", "cell", "excitatory", np.full((3, 1), 40000, np.uint16), np.full((3, 1), 2)
    )
    cell, provenance = run_single(parameters, (0, 0), [matrix], spikes, steps=10)
    init_e = int(core_of(parameters).derived_constants().init_exc[0])
    assert cell.states["i_exc"][0, 3, 0] == decay(0xFFFF, init_e)
    assert provenance.ring_buffer_saturations == {"cell": 2}
    assert provenance.skipped_synapses == {"cell": 0}  # no packet is late in the emulation


def test_synaptic_rows_land_in_slot_t_plus_d_of_the_binary_ring_buffer():
    """One row processed by the binary at time 5: weights at (5 + d) mod D, in type/neuron order."""
    from neurodelay.backends.spinnaker.emulated.core import synaptic_word

    words = synaptic_word(np.array([7, 300, 9]), np.array([1, 3, 4]), 1, np.array([0, 2, 3]), 2, 4)
    core = EmulatedCore(uniform_parameters(4), (0, 0), delay_slots=4, neuron_bits=2, rows={"row": words})
    core.deliver(5, ["row"])
    ring = core.ring_buffer()
    expected = np.zeros((4, 2, 4), np.int64)
    expected[(5 + 1) % 4, 1, 0] = 7
    expected[(5 + 3) % 4, 1, 2] = 300
    expected[(5 + 4) % 4, 1, 3] = 9  # d = D: stored as delay field 0
    assert ring.tolist() == expected.tolist()
    assert core.counter("processed_synapses") == 3


def test_one_deliver_processes_every_listed_row_in_one_run_and_saturates_across_rows():
    """Rows listed together go through the binary's row routine one after another in one emulation
    run: their weights add up in the ring buffer, a sum past 0xFFFF saturates (counted once per
    saturating synapse), an unlisted row adds nothing, and an empty list is a no-op."""
    from neurodelay.backends.spinnaker.emulated.core import synaptic_word

    rows = {
        "a": synaptic_word(np.array([40000, 5]), np.array([1, 2]), 0, np.array([0, 1]), 1, 4),
        "b": synaptic_word(np.array([40000]), np.array([1]), 0, np.array([0]), 1, 4),
        "c": synaptic_word(np.array([11]), np.array([3]), 1, np.array([1]), 1, 4),
        "unused": synaptic_word(np.array([1000]), np.array([1]), 0, np.array([1]), 1, 4),
    }
    core = EmulatedCore(uniform_parameters(2), (0, 0), delay_slots=4, neuron_bits=1, rows=rows)
    core.deliver(2, [])
    assert core.counter("processed_synapses") == 0
    core.deliver(2, ["a", "b", "c"])
    expected = np.zeros((4, 2, 2), np.int64)
    expected[3, 0, 0] = 0xFFFF  # 40000 + 40000 saturates
    expected[0, 0, 1] = 5
    expected[1, 1, 1] = 11
    assert core.ring_buffer().tolist() == expected.tolist()
    assert core.counter("processed_synapses") == 4 and core.counter("saturation_count") == 1


def test_recurrent_spikes_arrive_after_their_delay_and_two_cores_split_a_population():
    size = 300  # 256 + 44 neurons: two cores
    parameters = uniform_parameters(size, tau_refrac_ms=1.0)
    offsets = np.zeros(size, np.int64)
    offsets[[0, 299]] = 2 * ONE  # two driven neurons, one on each core
    parameters = IfCurrExpParameters(**{**vars(parameters), "i_offset_na": offsets})
    weights = np.zeros((size, size), np.uint16)
    delays = np.ones((size, size), np.int64)
    weights[0, 1], delays[0, 1] = 60000, 3  # core 0 -> core 0
    weights[299, 5], delays[299, 5] = 60000, 7  # core 1 -> core 0
    recurrent = SynapticMatrix("rec", "cell", "cell", "excitatory", weights, delays)
    cell, _ = run_single(parameters, (0, 0), [recurrent], None, steps=80)
    driven = np.flatnonzero(cell.spikes[0, :, 0])
    assert driven.size >= 2 and np.array_equal(driven, np.flatnonzero(cell.spikes[0, :, 299]))
    first = int(driven[0])
    i_1 = cell.states["i_exc"][0, :, 1]
    i_5 = cell.states["i_exc"][0, :, 5]
    assert i_1[first + 2] == 0 and i_1[first + 3] > 0  # delay 3
    assert i_5[first + 6] == 0 and i_5[first + 7] > 0  # delay 7, across cores
    assert not cell.spikes[0, :, 6:299].any()  # undriven neurons stay silent


# ----- input checks -----------------------------------------------------------------------------
def test_delays_beyond_the_core_ring_buffer_are_refused():
    parameters = uniform_parameters(256)  # 8 neuron bits: D = 32
    matrix = SynapticMatrix(
        "in_cell", "input", "cell", "excitatory", np.ones((1, 256), np.uint16), np.full((1, 256), 33)
    )
    with pytest.raises(TargetLimitError, match="33 steps exceeds the 32 ring-buffer slots"):
        EmulatedNetwork(
            "big", 1.0, (SourcePopulation("input", 1),), (CorePopulation("cell", parameters, (0, 0)),), (matrix,)
        )


def test_inexact_parameters_and_bad_fields_are_named():
    with pytest.raises(ValidationError, match="tau_m_ms.*exact s16.15"):
        uniform_parameters(1, tau_m_ms=0.1)
    with pytest.raises(ValidationError, match=r"parameters\.cm_nf"):
        IfCurrExpParameters(**{**vars(uniform_parameters(1)), "cm_nf": np.array([0])})
    matrix = SynapticMatrix("m", "input", "cell", "excitatory", np.array([[70000]]), np.array([[1]]))
    with pytest.raises(ValidationError, match=r"matrices\[0\]\.weights.*0\.\.65535"):
        EmulatedNetwork(
            "bad",
            1.0,
            (SourcePopulation("input", 1),),
            (CorePopulation("cell", uniform_parameters(1), (0, 0)),),
            (matrix,),
        )
