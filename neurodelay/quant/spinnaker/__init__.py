"""SpiNNaker 1 (sPyNNaker 1!7.4.1, ``IF_curr_exp``): format table (:mod:`.formats`), fixed-point arithmetic
(:mod:`.fixed_point`), core placement (:mod:`.placement`), the integer model (:mod:`.model`) and the
quantizer (:mod:`.quantizer`); everything is re-exported here.

Facts: docs/spinnaker.md (§S1-§S6). Formats on the chip:

* neuron state and parameters (V, V_rest, V_reset, V_thresh, I_offset, R_membrane, exp_TC, I_syn):
  **s16.15** int32 bits, LSB 2^-15 (mV, nA, MOhm);
* synaptic decay and init factors: **u0.32** (LSB 2^-32);
* synaptic weight: **16-bit unsigned** word per synapse; the summed ring-buffer slot is shifted left
  by the post population's per-synapse-type ring-buffer shift ``shift`` and read as s16.15, so one
  weight unit is ``2^(shift - 15)`` nA; sign comes only from the receptor type (exc/inh);
* delays: whole timesteps ``1 .. D`` on the target core, ``D`` ring-buffer slots per synapse type;
  a delay-extension core adds up to 8 stages of ``D`` steps (total ``9 D``).

Mapping of the IR (:mod:`neurodelay.ir.nodes`) onto ``IF_curr_exp`` with voltage scale ``k``
(mV per IR voltage unit, option ``voltage_scale_mv``):

* ``cm = tau_m`` (nF), so the membrane resistance ``R = tau_m / cm = 1`` MOhm exactly on chip
  (``kdivk(x, x) = 1.0``); ``v_rest, v_reset, v_thresh = k * (rest, reset, threshold)``;
  ``i_offset = k * bias / R`` nA; initial ``v = k * rest``; ``tau_syn_E = tau_syn_I = tau_syn``;
  ``tau_refrac = refractory_steps * dt`` (the chip's ``ceil`` gives back ``refractory_steps``).
* Synaptic currents: the chip adds ``init * (summed slot)`` with ``init = (tau_syn/dt)(1 - e^-dt/tau_syn)``,
  which is the IR's ``i_scale``; its membrane step ``V = V_inf + exp_TC (V - V_inf)``,
  ``V_inf = V_rest + R I``, is the IR's ``rest + alpha (V - rest) + (1 - alpha)(i_scale I + bias)``
  with ``alpha = exp_TC``. So an IR weight ``W`` becomes ``k W / R`` nA, i.e. the 16-bit word
  ``rint(|k W / R| 2^(15 - shift))`` on the excitatory (W > 0) or inhibitory (W < 0) receptor.
* Latency: the IR adds a spike of step t through delay d at step ``t + 1 + d``; sPyNNaker delivers
  at ``t + d'`` with ``d' >= 1``, so the sPyNNaker delay is ``d' = d + 1`` steps.
* Leaky integrators become ``IF_curr_exp`` with the largest s16.15 threshold (they can only fire
  if V reaches exactly 65535.99997 mV) and no refractory period.

One ring-buffer shift per post population is used for both receptor types (the IR's
``WeightFormat`` has one exponent per projection, and a signed projection feeds both types); the
exporter pins it with ``max_expected_summed_weight``.
"""

from __future__ import annotations

from .fixed_point import (
    EXP_INTEGER_POWERS_U3232,
    EXP_SERIES_U032,
    EXPM1_SIXTEENTHS_U032,
    decode_s1615,
    encode_s1615,
    exp_u3232,
    expk_bits,
    expulr_bits,
    kdivk,
    refractory_timesteps,
    synaptic_decay_and_init,
)
from .formats import (
    DEFAULT_NEURONS_PER_CORE,
    DELAY_EXTENSION_STAGES,
    EXCITATORY,
    EXP_SATURATION_HIGH_BITS,
    EXP_ZERO_BELOW_BITS,
    FORMAT,
    INHIBITORY,
    LEAKY_INTEGRATOR_THRESHOLD_MV,
    MAX_RING_BUFFER_BITS,
    MAX_SHIFT,
    MIN_AUTO_NEURONS_PER_CORE,
    RECEPTOR_TYPES,
    S1615_FRACTION_BITS,
    S1615_MAX_BITS,
    S1615_MIN_BITS,
    S1615_ONE,
    SPYNNAKER_VERSION,
    SYNAPSE_TYPE_BITS,
    TARGET,
    U032_ONE_BITS,
    WEIGHT_MANTISSA_BITS,
    WEIGHT_WORD_MAX,
    FormatTable,
    weight_unit_nA,
    word_limit,
)
from .model import (
    PopulationLayout,
    SpiNNakerModel,
    SynapseList,
    chip_constants,
    integer_model,
    pynn_cell_parameters,
    ring_buffer_shifts,
    timestep_bits,
)
from .placement import (
    auto_neurons_per_core,
    check_delay_extensions,
    delay_slots,
    delay_slots_available,
    max_delay_steps,
    n_bits,
    split_delay,
    spynnaker_shift_rule,
)
from .quantizer import SHIFT_POLICIES, QuantizationReport, quantize_network

__all__ = [
    "EXP_INTEGER_POWERS_U3232",
    "EXP_SERIES_U032",
    "EXPM1_SIXTEENTHS_U032",
    "decode_s1615",
    "encode_s1615",
    "exp_u3232",
    "expk_bits",
    "expulr_bits",
    "kdivk",
    "refractory_timesteps",
    "synaptic_decay_and_init",
    "DEFAULT_NEURONS_PER_CORE",
    "DELAY_EXTENSION_STAGES",
    "EXCITATORY",
    "EXP_SATURATION_HIGH_BITS",
    "EXP_ZERO_BELOW_BITS",
    "FORMAT",
    "INHIBITORY",
    "LEAKY_INTEGRATOR_THRESHOLD_MV",
    "MAX_RING_BUFFER_BITS",
    "MAX_SHIFT",
    "MIN_AUTO_NEURONS_PER_CORE",
    "RECEPTOR_TYPES",
    "S1615_FRACTION_BITS",
    "S1615_MAX_BITS",
    "S1615_MIN_BITS",
    "S1615_ONE",
    "SPYNNAKER_VERSION",
    "SYNAPSE_TYPE_BITS",
    "TARGET",
    "U032_ONE_BITS",
    "WEIGHT_MANTISSA_BITS",
    "WEIGHT_WORD_MAX",
    "FormatTable",
    "weight_unit_nA",
    "word_limit",
    "PopulationLayout",
    "SpiNNakerModel",
    "SynapseList",
    "chip_constants",
    "integer_model",
    "pynn_cell_parameters",
    "ring_buffer_shifts",
    "timestep_bits",
    "auto_neurons_per_core",
    "check_delay_extensions",
    "delay_slots",
    "delay_slots_available",
    "max_delay_steps",
    "n_bits",
    "split_delay",
    "spynnaker_shift_rule",
    "SHIFT_POLICIES",
    "QuantizationReport",
    "quantize_network",
]
