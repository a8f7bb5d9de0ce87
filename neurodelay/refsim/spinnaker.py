"""SpiNNaker mode of the reference simulator: ``IF_curr_exp`` of sPyNNaker 1!7.4.1 in s16.15 integers.

Vectorised over the batch with numpy int64 arrays holding int32 / uint16 values. Per timer tick t
(docs/spinnaker.md §S2), for every population:

1. ring-buffer slot ``t mod D`` of each receptor type (a saturating uint16 sum of weight words)
   is shifted left by the population's ring-buffer shift, read as s16.15 (int32 wrap), multiplied
   by the u0.32 init factor (floor) and added to that type's synaptic current; the slot is cleared;
2. (the chip records v, gsyn here: before the membrane update)
3. unless refractory: ``I = I_exc - I_inh + I_offset``, ``a = MUL(I, R) + V_rest``,
   ``V = a - MUL(exp_TC, a - V)``; otherwise the refractory counter counts down;
4. threshold ``V >= V_thresh`` (checked even while refractory): spike, ``V = V_reset``,
   counter ``= T_refract``;
5. both synaptic currents decay: ``I = floor(I * decay / 2^32)``;

then every spike of step t (spike sources included) is added, for each synapse of sPyNNaker
delay ``d`` (1..D on core), to slot ``(t + d) mod D`` of its post population. A delay longer than
D goes through the delay extension: stage ``k = (d-1) // D`` re-sends the spike at ``t + k D`` and
the row delay ``d - k D`` finishes it, which this model reproduces literally.

``MUL`` is the membrane multiply ``(a * b) >> 15`` (floor, what the shipped 1!7.4.1 binary does;
``membrane_rounding="nearest"`` adds ``2^14`` first, as later sPyNNaker sources do). Checked by
disassembling the wheel's ``IF_curr_exp.aplx`` with capstone (tests/test_spinnaker_binary.py):
both membrane products are ``smull`` followed by ``(hi << 17) | (lo >> 15)`` with no rounding
term, and the synapse set-up computes ``1.0ulr - decay`` as ``0xFFFFFFFF - decay`` (``mvn #0``). All int32
state wraps modulo 2^32; nothing saturates except the ring buffer.

Recorded, in the shared layout (step n of the IR): spikes; ``v`` after threshold and reset of
step n (the chip itself records it one tick later); ``i_syn = I_exc - I_inh`` and ``i_exc``,
``i_inh`` after the input of step n and before its decay; all as s16.15 bits. Scales convert to
IR units: v by ``2^-15 / k``; currents by ``2^-15 / (k * init)`` (the IR's I, since the chip
holds ``init * k * I``; exact for a population with one tau_syn, its mean init otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ValidationError
from ..ir import Network
from ..quant.spinnaker import (
    EXCITATORY,
    INHIBITORY,
    S1615_FRACTION_BITS,
    S1615_ONE,
    WEIGHT_WORD_MAX,
    PopulationLayout,
    SpiNNakerModel,
    integer_model,
    split_delay,
)
from ..recording import PopulationRecording, Recording
from .engine import resolve_engine

MEMBRANE_ROUNDINGS = ("floor", "nearest")


def wrap_int32(values: np.ndarray) -> np.ndarray:
    """Two's-complement int32 wrap of int64 values."""
    return ((values + (1 << 31)) & 0xFFFFFFFF) - (1 << 31)


def multiply_s1615(a: np.ndarray, b: np.ndarray, rounding: str = "floor") -> np.ndarray:
    """accum * accum: bits 46..15 of the 64-bit product, floor or round-to-nearest, wrapped to int32."""
    product = a.astype(np.int64) * b.astype(np.int64)
    if rounding == "nearest":
        product = product + (1 << (S1615_FRACTION_BITS - 1))
    return wrap_int32(product >> S1615_FRACTION_BITS)


def scale_u032(values: np.ndarray, factor_u032: np.ndarray) -> np.ndarray:
    """s16.15 times u0.32 with floor (``decay_s1615``): ``(x * f) >> 32``."""
    return (values.astype(np.int64) * factor_u032.astype(np.int64)) >> 32


@dataclass
class PopulationState:
    """Integer state of one population: ``[batch, n]`` int64 holding int32 (refractory: int)."""

    v: np.ndarray
    i_syn: np.ndarray  # [batch, 2, n]: excitatory, inhibitory
    refractory: np.ndarray
    ring: np.ndarray  # [batch, 2, D, n] uint16 values


@dataclass
class SpiNNakerRunCounters:
    """Events the chip counts in provenance: ring-buffer slot saturations per population."""

    ring_buffer_saturations: dict[str, int] = field(default_factory=dict)


def _empty_state(layout: SpiNNakerModel, name: str, batch: int) -> PopulationState:
    population = layout.populations[name]
    n = population.size
    return PopulationState(
        v=np.tile(population.bits["v"], (batch, 1)),
        i_syn=np.zeros((batch, 2, n), np.int64),
        refractory=np.zeros((batch, n), np.int64),
        ring=np.zeros((batch, 2, population.slots, n), np.int64),
    )


def executor_name(membrane_rounding: str) -> str:
    """The recording's executor name: ``refsim-spinnaker``, with the rounding when it is not the chip's floor."""
    return f"refsim-spinnaker-{membrane_rounding}" if membrane_rounding != "floor" else "refsim-spinnaker"


def state_scales(layout: SpiNNakerModel, population: PopulationLayout) -> dict[str, float]:
    """IR units per LSB of the recorded states of ``population`` (see the module docstring)."""
    init_mean = float(np.mean(population.init)) / 2.0**32
    current_scale = 1.0 / (S1615_ONE * layout.voltage_scale_mv * init_mean)
    return {
        "v": 1.0 / (S1615_ONE * layout.voltage_scale_mv),
        "i_syn": current_scale,
        "i_exc": current_scale,
        "i_inh": current_scale,
    }


def simulate_model(
    layout: SpiNNakerModel,
    inputs: dict[str, np.ndarray],
    *,
    membrane_rounding: str = "floor",
    engine: str | None = None,
) -> tuple[Recording, SpiNNakerRunCounters]:
    """Run the integer model of ``layout`` on ``{source: bool [batch, steps, n]}`` inputs.

    ``engine``: ``compiled`` (:mod:`.spinnaker_compiled`, the default) or ``numpy`` (this function's
    own loop, the oracle); see :mod:`neurodelay.refsim.engine`. Both return the same recording and
    counters."""
    if membrane_rounding not in MEMBRANE_ROUNDINGS:
        raise ValidationError(
            "membrane_rounding", f"unknown rounding {membrane_rounding!r}", ", ".join(MEMBRANE_ROUNDINGS)
        )
    if resolve_engine(engine) == "compiled":
        from .spinnaker_compiled import simulate_model as simulate_compiled

        return simulate_compiled(layout, inputs, membrane_rounding)
    batch, steps = next(iter(inputs.values())).shape[:2]
    names = list(layout.populations)
    states = {name: _empty_state(layout, name, batch) for name in names}
    counters = SpiNNakerRunCounters({name: 0 for name in names})
    record: dict[str, PopulationRecording] = {}
    for name, size in layout.sources.items():
        record[name] = PopulationRecording(np.asarray(inputs[name], bool).copy())
    for name in names:
        population = layout.populations[name]
        shape = (batch, steps, population.size)
        record[name] = PopulationRecording(
            np.zeros(shape, bool),
            {key: np.zeros(shape, np.int64) for key in ("v", "i_syn", "i_exc", "i_inh")},
            state_scales(layout, population),
        )
    deliveries = []
    for synapses in layout.synapses:
        slots = layout.populations[synapses.post_population].slots
        stage, row_delay = split_delay(synapses.delay_steps, slots)
        receptor = EXCITATORY if synapses.receptor == "excitatory" else INHIBITORY
        deliveries.append((synapses, stage, row_delay, receptor, slots))

    for step in range(steps):
        for name in names:
            population, state = layout.populations[name], states[name]
            slot = step % population.slots
            words = state.ring[:, :, slot, :]  # [batch, 2, n]
            as_s1615 = wrap_int32(words << population.shift)
            state.i_syn = wrap_int32(state.i_syn + scale_u032(as_s1615, population.init[None, None, :]))
            state.ring[:, :, slot, :] = 0
            integrating = state.refractory <= 0
            current = wrap_int32(state.i_syn[:, EXCITATORY] - state.i_syn[:, INHIBITORY] + population.bits["i_offset"])
            target = wrap_int32(
                multiply_s1615(current, population.r_membrane, membrane_rounding) + population.bits["v_rest"]
            )
            integrated = wrap_int32(
                target - multiply_s1615(population.exp_tc, wrap_int32(target - state.v), membrane_rounding)
            )
            state.v = np.where(integrating, integrated, state.v)
            state.refractory = np.where(integrating, state.refractory, state.refractory - 1)
            spikes = state.v >= population.bits["v_thresh"]
            state.v = np.where(spikes, population.bits["v_reset"], state.v)
            state.refractory = np.where(spikes, population.t_refract, state.refractory)
            out = record[name]
            out.spikes[:, step] = spikes
            out.states["v"][:, step] = state.v
            out.states["i_exc"][:, step] = state.i_syn[:, EXCITATORY]
            out.states["i_inh"][:, step] = state.i_syn[:, INHIBITORY]
            out.states["i_syn"][:, step] = state.i_syn[:, EXCITATORY] - state.i_syn[:, INHIBITORY]
            state.i_syn = scale_u032(state.i_syn, population.decay[None, None, :])
        for synapses, stage, row_delay, receptor, slots in deliveries:
            state = states[synapses.post_population]
            n_post = layout.populations[synapses.post_population].size
            sent_at = step - stage * slots  # [k]
            valid = sent_at >= 0
            if not valid.any():
                continue
            fired = np.zeros((batch, stage.size), bool)
            fired[:, valid] = record[synapses.pre_population].spikes[:, sent_at[valid], synapses.pre[valid]]
            batch_index, synapse_index = np.nonzero(fired)
            if batch_index.size == 0:
                continue
            target_slot = (step + row_delay[synapse_index]) % slots
            flat = ((batch_index * 2 + receptor) * slots + target_slot) * n_post + synapses.post[synapse_index]
            added = np.bincount(flat, synapses.weight_words[synapse_index], minlength=state.ring.size)
            summed = state.ring + added.reshape(state.ring.shape).astype(np.int64)
            saturated = summed > WEIGHT_WORD_MAX
            counters.ring_buffer_saturations[synapses.post_population] += int(np.count_nonzero(saturated))
            state.ring = np.minimum(summed, WEIGHT_WORD_MAX)
    return Recording(executor_name(membrane_rounding), layout.dt_ms, steps, record), counters


def simulate_network(
    network: Network, inputs: dict[str, np.ndarray], *, membrane_rounding: str = "floor", engine: str | None = None
) -> Recording:
    """Reference-simulator mode ``spinnaker``: a network from ``quantize_network`` on checked inputs,
    simulated with ``engine`` (see :func:`simulate_model`)."""
    recording, _ = simulate_model(integer_model(network), inputs, membrane_rounding=membrane_rounding, engine=engine)
    return recording
