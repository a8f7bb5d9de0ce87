"""SpiNNaker 1 (sPyNNaker 1!7.4.1, ``IF_curr_exp``) integer format: table, encoding, layout, quantizer.

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

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal, getcontext
from typing import Any

import numpy as np

from ..errors import TargetLimitError, ValidationError
from ..ir import LIF, LeakyIntegrator, Network, Projection, WeightFormat, as_vector, decays

TARGET = "spinnaker"
SPYNNAKER_VERSION = "1!7.4.1"

# ----- the format table ----------------------------------------------------------------------
S1615_FRACTION_BITS = 15
S1615_ONE = 1 << S1615_FRACTION_BITS
S1615_MIN_BITS = -(1 << 31)
S1615_MAX_BITS = (1 << 31) - 1
U032_ONE_BITS = 1 << 32
WEIGHT_WORD_MAX = 0xFFFF                  # 16-bit unsigned weight and ring-buffer entry
WEIGHT_MANTISSA_BITS = 17                 # the IR stores the sign with the 16-bit magnitude
MAX_RING_BUFFER_BITS = 14                 # atom bits + synapse-type bits + delay bits <= 14
SYNAPSE_TYPE_BITS = 1                     # IF_curr_exp: excitatory (0), inhibitory (1)
EXCITATORY, INHIBITORY = 0, 1
RECEPTOR_TYPES = ("excitatory", "inhibitory")
DELAY_EXTENSION_STAGES = 8                # DelayExtensionVertex.MAX_SLOTS
DEFAULT_NEURONS_PER_CORE = 256
MIN_AUTO_NEURONS_PER_CORE = 16
MAX_SHIFT = 16                            # weight unit 2 nA; words << 16 must stay a positive int32
EXP_SATURATION_HIGH_BITS = 363408         # expk/expulr saturate above this argument (s16.15 bits)
EXP_ZERO_BELOW_BITS = -340695             # and return 0 below this one
LEAKY_INTEGRATOR_THRESHOLD_MV = S1615_MAX_BITS / S1615_ONE


@dataclass(frozen=True)
class FormatTable:
    """Human-readable summary of the SpiNNaker format, for reports and ``neurodelay info``."""

    neuron_model: str = "IF_curr_exp (sPyNNaker 1!7.4.1, combined neuron+synapse core)"
    state_format: str = "s16.15 int32 (LSB 2^-15 mV / nA), wraps modulo 2^32"
    factor_format: str = "u0.32 (synaptic decay and init)"
    weight_format: str = "16-bit unsigned per synapse, sign from receptor type; unit 2^(shift-15) nA"
    ring_buffer: str = "uint16 per (delay slot, synapse type, neuron), saturating at 65535"
    delays: str = "1..D steps on core (D = 2^(14 - atom bits - 1) at most), up to 9 D with a delay extension"
    membrane_multiply: str = "floor (spynnaker 1!7.4.1 binary); round-to-nearest in later sources"


FORMAT = FormatTable()


# ----- s16.15 encoding and the chip's fixed-point helpers ------------------------------------
def encode_s1615(values: Any, field: str) -> np.ndarray:
    """s16.15 bits (int64 array) of ``values`` as the sPyNNaker host writes them: round half to even.

    Raises :class:`TargetLimitError` naming ``field`` when a value is outside the s16.15 range
    [-65536, 65535.99997].
    """
    scaled = np.asarray(values, np.float64) * S1615_ONE
    bits = np.round(scaled)
    if np.any(~np.isfinite(bits)) or np.any(bits < S1615_MIN_BITS) or np.any(bits > S1615_MAX_BITS):
        raise TargetLimitError(f"{field}: value(s) out of the SpiNNaker s16.15 range "
                               f"(min {np.min(scaled) / S1615_ONE}, max {np.max(scaled) / S1615_ONE}); "
                               "allowed: [-65536, 65535.99997]; lower voltage_scale_mv")
    return bits.astype(np.int64)


def decode_s1615(bits: Any) -> np.ndarray:
    """Float value (float64) of s16.15 ``bits``."""
    return np.asarray(bits, np.float64) / S1615_ONE


def kdivk(numerator_bits: int, denominator_bits: int) -> int:
    """The chip's ``kdivk``: s16.15 division ``(a << 15) / b`` as an unsigned, truncating division."""
    if numerator_bits < 0 or denominator_bits <= 0:
        raise ValueError("kdivk is only used with a >= 0 and b > 0")
    return (numerator_bits << S1615_FRACTION_BITS) // denominator_bits


def _exp_tables() -> tuple[list[int], list[int]]:
    """``e^(k-13)`` for k in 0..25 and ``1 - e^(-i/16)`` for i in 0..15, both rounded to u32.32 / u0.32.

    Computed here at 60 significant digits; tests compare them with the entries published in the
    SpiNNaker C library (``stdfix-exp.c``).
    """
    getcontext().prec = 60
    e = Decimal(1).exp()
    integer_powers = [int((e ** (k - 13) * U032_ONE_BITS).to_integral_value()) for k in range(26)]
    sixteenths = [int(((1 - (-Decimal(i) / 16).exp()) * U032_ONE_BITS).to_integral_value())
                  for i in range(16)]
    return integer_powers, sixteenths


EXP_INTEGER_POWERS_U3232, EXPM1_SIXTEENTHS_U032 = _exp_tables()
EXP_SERIES_U032 = (5294, 4293434720, 2081624032)
"""Fitted quadratic ``c0 + y (c1 - c2 y)`` for ``1 - e^-y``, y in [0, 2^-4), from ``stdfix-exp.c``."""


def _mul_hi32(a: int, b: int) -> int:
    return ((a * b) >> 32) & 0xFFFFFFFF


def _scale_u3232(x: int, factor_u032: int) -> int:
    """u32.32 ``x`` times u0.32 ``factor``: exact high part plus the rounded product of the low part."""
    return (x >> 32) * factor_u032 + (((x & 0xFFFFFFFF) * factor_u032 + (1 << 31)) >> 32)


def _one_minus_exp_series(y_u032: int) -> int:
    c0, c1, c2 = EXP_SERIES_U032
    inner = (c1 - _mul_hi32(c2, y_u032)) & 0xFFFFFFFF
    return (_mul_hi32(inner, y_u032) + c0) & 0xFFFFFFFF


def exp_u3232(argument_bits: int) -> int:
    """The chip's table exponential: ``e^(argument_bits / 2^15)`` as a u32.32 integer.

    The argument is split into a whole part (table of e^k) and a fraction counted down from the
    next whole number: its top 4 bits index the table of ``1 - e^(-i/16)``, its low 11 bits go
    through the fitted quadratic; each correction multiplies the running value by ``1 - factor``.
    """
    whole = argument_bits >> S1615_FRACTION_BITS
    fraction = argument_bits - (whole << S1615_FRACTION_BITS)
    if fraction == 0:
        return EXP_INTEGER_POWERS_U3232[13 + whole]
    whole += 1
    remaining = S1615_ONE - fraction
    value = EXP_INTEGER_POWERS_U3232[13 + whole]
    value -= _scale_u3232(value, EXPM1_SIXTEENTHS_U032[remaining >> 11])
    value -= _scale_u3232(value, _one_minus_exp_series((remaining & 0x7FF) << 17))
    return value


def expk_bits(argument_bits: int) -> int:
    """The chip's ``expk``: s16.15 bits of e^x, truncated; saturating as on the chip."""
    if argument_bits > EXP_SATURATION_HIGH_BITS:
        return S1615_MAX_BITS
    if argument_bits < EXP_ZERO_BELOW_BITS:
        return 0
    return exp_u3232(argument_bits) >> 17


def expulr_bits(argument_bits: int) -> int:
    """The chip's ``expulr``: u0.32 bits of e^x for x <= 0 (the low 32 bits of the u32.32 value)."""
    if argument_bits > EXP_SATURATION_HIGH_BITS:
        return S1615_MAX_BITS
    if argument_bits < EXP_ZERO_BELOW_BITS:
        return 0
    return exp_u3232(argument_bits) & 0xFFFFFFFF


def synaptic_decay_and_init(tau_syn_bits: int, timestep_bits: int) -> tuple[int, int]:
    """u0.32 ``(decay, init)`` of an exponential synapse, derived as the chip derives them at load.

    decay = expulr(-ts/tau) and init = ((tau/ts) * (1.0ulr - decay)) >> 15, where 1.0ulr is the
    largest u0.32 value 2^32 - 1 (``unsigned long fract`` cannot hold 1.0).
    """
    decay = expulr_bits(-kdivk(timestep_bits, tau_syn_bits))
    one_minus_decay = (U032_ONE_BITS - 1) - decay
    init = (kdivk(tau_syn_bits, timestep_bits) * one_minus_decay) >> S1615_FRACTION_BITS
    return decay, init & 0xFFFFFFFF


def refractory_timesteps(tau_refrac_bits: int, timestep_bits: int) -> int:
    """The chip's ``T_refract = ceil(tau_refrac / ts)`` (integer part, +1 if any fraction bit is set)."""
    quotient = kdivk(tau_refrac_bits, timestep_bits)
    return (quotient >> S1615_FRACTION_BITS) + (1 if quotient & (S1615_ONE - 1) else 0)


# ----- ring-buffer shift, weight unit, delay slots --------------------------------------------
def spynnaker_shift_rule(max_summed_weight_nA: float) -> int:
    """sPyNNaker's ring-buffer shift for an expected maximum summed weight (``get_ring_buffer_shifts``);
    the exporter pins each population's shift through it (``pynn_model.pinned_summed_weight``)."""
    power = 0 if max_summed_weight_nA <= 0 else int(math.ceil(max(0.0, math.log2(max_summed_weight_nA))))
    return power + 1 if 2 ** power <= max_summed_weight_nA else power


def weight_unit_nA(shift: int) -> float:
    """nA of one 16-bit weight unit under ring-buffer ``shift``: 2^(shift - 15)."""
    return 2.0 ** (shift - S1615_FRACTION_BITS)


def n_bits(n_values: int) -> int:
    """Bits needed for ``n_values`` values as sPyNNaker counts them (0 -> 0, 1 -> 1, else ceil log2)."""
    if n_values <= 0:
        return 0
    if n_values == 1:
        return 1
    return int(math.ceil(math.log2(n_values)))


def delay_slots_available(n_neurons: int, neurons_per_core: int) -> int:
    """Ring-buffer delay slots a core can hold: ``2^(14 - n_bits(min(n, per core)) - 1)``."""
    return 2 ** (MAX_RING_BUFFER_BITS - n_bits(min(n_neurons, neurons_per_core)) - SYNAPSE_TYPE_BITS)


def delay_slots(n_neurons: int, neurons_per_core: int, max_incoming_delay_steps: int) -> int:
    """D, the ring-buffer slots of the target core (``max_delay_steps_incoming`` in sPyNNaker)."""
    wanted = 2 ** n_bits(max(1, max_incoming_delay_steps))
    return min(wanted, delay_slots_available(n_neurons, neurons_per_core))


def max_delay_steps(slots: int) -> int:
    """Longest sPyNNaker delay (steps) with delay extensions: the core's D plus 8 stages of D."""
    return (DELAY_EXTENSION_STAGES + 1) * slots


def split_delay(spynnaker_delay_steps: np.ndarray, slots: int) -> tuple[np.ndarray, np.ndarray]:
    """``(stage, row_delay)`` of sPyNNaker delays: stage = (d-1) // D, row delay = d - stage D in 1..D.

    Stage 0 is delivered by the pre population itself; stage k > 0 by the delay extension, which
    re-sends the spike ``k D`` steps later.
    """
    delays = np.asarray(spynnaker_delay_steps, np.int64)
    stage = (delays - 1) // slots
    return stage, delays - stage * slots


# ----- the integer layout of a quantized network -----------------------------------------------
@dataclass
class PopulationLayout:
    """One neuron population as sPyNNaker's ``IF_curr_exp`` (float PyNN parameters and chip integers).

    pynn_parameters: PyNN cell parameters, float64 ``[size]`` each, in ms / nF / mV / nA.
    bits: the s16.15 words the host writes (int64 ``[size]``): v_init, v_rest, v_reset, v_thresh,
        i_offset, tau_m, cm, tau_refrac, tau_syn (one tau for both receptor types).
    r_membrane, exp_tc: s16.15 bits derived on chip; t_refract: timesteps;
    decay, init: u0.32 bits of the synapses (same for exc and inh).
    shift: ring-buffer left shift used for both receptor types.
    neurons_per_core: the value the exporter pins; slots: D, ring-buffer delay slots of its cores.
    """

    name: str
    size: int
    pynn_parameters: dict[str, np.ndarray]
    bits: dict[str, np.ndarray]
    r_membrane: np.ndarray
    exp_tc: np.ndarray
    t_refract: np.ndarray
    decay: np.ndarray
    init: np.ndarray
    shift: int
    neurons_per_core: int
    slots: int
    needs_delay_extension: bool


@dataclass
class SynapseList:
    """Synapses of one IR projection on one receptor type, as sPyNNaker gets them.

    pre, post: int64 ``[k]`` neuron indices; weight_words: int64 ``[k]`` in 1..65535;
    delay_steps: int64 ``[k]`` sPyNNaker delays (IR delay + 1), in 1..9 D.
    """

    projection: str
    pre_population: str
    post_population: str
    receptor: str
    pre: np.ndarray
    post: np.ndarray
    weight_words: np.ndarray
    delay_steps: np.ndarray


@dataclass
class SpiNNakerLayout:
    """Everything the exporter, the reference simulator and read-back parity need about one network."""

    network_name: str
    dt_ms: float
    timestep_bits: int
    voltage_scale_mv: float
    populations: dict[str, PopulationLayout]
    sources: dict[str, int]
    synapses: list[SynapseList]


def _settings(network: Network) -> dict[str, Any]:
    settings = network.provenance.get("spinnaker")
    if not isinstance(settings, dict) or "voltage_scale_mv" not in settings:
        raise ValidationError("provenance.spinnaker", "the network was not quantized for SpiNNaker",
                              "a network returned by quantize_for_spinnaker")
    for projection in network.projections:
        if projection.weight_format is None or projection.weight_format.target != TARGET:
            raise ValidationError(f"projections[{projection.name}].weight_format",
                                  "not quantized for SpiNNaker", "WeightFormat(target='spinnaker', ...)")
    return settings


def timestep_bits(dt_ms: float) -> int:
    """s16.15 bits of the timestep; dt must be a whole number of microseconds (sPyNNaker's clock)."""
    if abs(dt_ms * 1000.0 - round(dt_ms * 1000.0)) > 1e-9:
        raise TargetLimitError(f"dt_ms: {dt_ms} ms is not a whole number of microseconds "
                               "(allowed: multiples of 0.001 ms)")
    return int(encode_s1615(dt_ms, "dt_ms"))


def pynn_cell_parameters(population: LIF | LeakyIntegrator, dt_ms: float,
                         voltage_scale_mv: float) -> dict[str, np.ndarray]:
    """PyNN ``IF_curr_exp`` parameters (float64 ``[size]`` each; ms, nF, mV, nA) for one IR population."""
    n = population.size
    tau_m = as_vector(population.tau_m_ms, n)
    rest = as_vector(population.rest, n) * voltage_scale_mv
    if isinstance(population, LIF):
        reset = as_vector(population.reset, n) * voltage_scale_mv
        threshold = as_vector(population.threshold, n) * voltage_scale_mv
        tau_refrac = np.full(n, population.refractory_steps * dt_ms)
    else:
        reset, threshold, tau_refrac = rest.copy(), np.full(n, LEAKY_INTEGRATOR_THRESHOLD_MV), np.zeros(n)
    tau_syn = as_vector(population.tau_syn_ms, n)
    return {"tau_m": tau_m, "cm": tau_m.copy(), "v_rest": rest, "v_reset": reset, "v_thresh": threshold,
            "tau_syn_E": tau_syn, "tau_syn_I": tau_syn.copy(), "tau_refrac": tau_refrac,
            "i_offset": as_vector(population.bias, n) * voltage_scale_mv, "v": rest.copy()}


def chip_constants(name: str, parameters: dict[str, np.ndarray], step_bits: int
                   ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """``(bits, derived)``: the s16.15 parameter words and the constants the core derives from them."""
    bits = {key: encode_s1615(parameters[key], f"populations[{name}].{key}")
            for key in ("v", "v_rest", "v_reset", "v_thresh", "i_offset", "tau_m", "cm", "tau_refrac",
                        "tau_syn_E")}
    if np.any(bits["tau_m"] <= 0) or np.any(bits["tau_syn_E"] <= 0) or np.any(bits["cm"] <= 0):
        raise TargetLimitError(f"populations[{name}]: tau_m, cm and tau_syn must be at least 2^-15 ms "
                               "after s16.15 encoding")
    r = np.array([kdivk(int(t), int(c)) for t, c in zip(bits["tau_m"], bits["cm"])], np.int64)
    exp_tc = np.array([expk_bits(-kdivk(step_bits, int(t))) for t in bits["tau_m"]], np.int64)
    t_refract = np.array([refractory_timesteps(int(t), step_bits) for t in bits["tau_refrac"]], np.int64)
    decay_init = np.array([synaptic_decay_and_init(int(t), step_bits) for t in bits["tau_syn_E"]], np.int64)
    derived = {"r_membrane": r, "exp_tc": exp_tc, "t_refract": t_refract,
               "decay": decay_init[:, 0], "init": decay_init[:, 1]}
    return bits, derived


def auto_neurons_per_core(n_neurons: int, needed_delay_steps: int,
                          minimum: int = MIN_AUTO_NEURONS_PER_CORE) -> int:
    """Neurons per core for a population: the largest power of two <= 256 (and >= ``minimum``)
    whose core holds ``needed_delay_steps`` delay slots without a delay extension; if none does,
    ``minimum`` (the most slots, extended by delay-extension stages)."""
    candidate = DEFAULT_NEURONS_PER_CORE
    while candidate >= minimum:
        if delay_slots_available(n_neurons, candidate) >= needed_delay_steps:
            return candidate
        candidate //= 2
    return minimum


def ring_buffer_shifts(network: Network) -> dict[str, int]:
    """The ring-buffer shift of every neuron population: ``exponent + 15`` of its incoming projections'
    weight formats, which must agree (0 without incoming projections); every weight word must fit
    :func:`word_limit` of that shift."""
    shifts: dict[str, int] = {}
    for population in network.neurons():
        incoming = network.incoming(population.name)
        found = {p.name: p.weight_format.exponent + S1615_FRACTION_BITS for p in incoming}
        if len(set(found.values())) > 1:
            raise ValidationError(f"projections[{','.join(found)}].weight_format.exponent",
                                  f"projections into {population.name!r} have different ring-buffer shifts {found}",
                                  "one exponent per post population (SpiNNaker has one shift per population)")
        shift = next(iter(found.values()), 0)
        if not 0 <= shift <= MAX_SHIFT:
            raise TargetLimitError(f"populations[{population.name}]: ring-buffer shift {shift}; "
                                   f"allowed: 0..{MAX_SHIFT}")
        for projection in incoming:
            largest = int(np.abs(projection.integer_weights).max(initial=0))
            if largest > word_limit(shift):
                raise TargetLimitError(f"projections[{projection.name}].integer_weights: |{largest}| exceeds the "
                                       f"{word_limit(shift)} a SpiNNaker weight word can hold at shift {shift}")
        shifts[population.name] = shift
    return shifts


def build_layout(network: Network) -> SpiNNakerLayout:
    """The integer SpiNNaker view of a network returned by :func:`quantize_for_spinnaker`.

    Raises :class:`TargetLimitError` naming the projection, the delay and the limit when a delay
    exceeds what the post population's cores can hold even with a delay extension.
    """
    settings = _settings(network)
    scale = float(settings["voltage_scale_mv"])
    step_bits = timestep_bits(network.dt_ms)
    pinned = settings.get("neurons_per_core", {})
    synapses: list[SynapseList] = []
    needed: dict[str, int] = {p.name: 0 for p in network.neurons()}
    for projection in network.projections:
        exists = projection.existing() & (projection.integer_weights != 0)
        delays = projection.integer_delays() + 1
        for receptor, select in (("excitatory", projection.integer_weights > 0),
                                 ("inhibitory", projection.integer_weights < 0)):
            pre, post = np.nonzero(exists & select)
            if pre.size:
                synapses.append(SynapseList(projection.name, projection.pre, projection.post, receptor,
                                            pre.astype(np.int64), post.astype(np.int64),
                                            np.abs(projection.integer_weights[pre, post]),
                                            delays[pre, post]))
                needed[projection.post] = max(needed[projection.post], int(delays[pre, post].max()))
    shifts = ring_buffer_shifts(network)
    populations: dict[str, PopulationLayout] = {}
    for population in network.neurons():
        parameters = pynn_cell_parameters(population, network.dt_ms, scale)
        bits, derived = chip_constants(population.name, parameters, step_bits)
        if isinstance(population, LIF) and np.any(bits["v_reset"] >= bits["v_thresh"]):
            raise TargetLimitError(f"populations[{population.name}].reset: reset and threshold are equal in s16.15 "
                                   "at this voltage scale (the chip checks the threshold while refractory, so the "
                                   "neuron would fire every step); allowed: threshold - reset >= 2^-15 mV after "
                                   "scaling; raise voltage_scale_mv")
        per_core = int(pinned.get(population.name) or auto_neurons_per_core(population.size,
                                                                            needed[population.name]))
        slots = delay_slots(population.size, per_core, needed[population.name])
        populations[population.name] = PopulationLayout(
            population.name, population.size, parameters, bits,
            derived["r_membrane"], derived["exp_tc"], derived["t_refract"], derived["decay"], derived["init"],
            shifts[population.name], per_core, slots, needed[population.name] > slots)
    for synapse_list in synapses:
        slots = populations[synapse_list.post_population].slots
        worst = int(synapse_list.delay_steps.max())
        if worst > max_delay_steps(slots):
            post = populations[synapse_list.post_population]
            raise TargetLimitError(
                f"projections[{synapse_list.projection}]: delay of {worst - 1} steps (sPyNNaker delay "
                f"{worst} steps = {worst * network.dt_ms:g} ms) exceeds SpiNNaker's limit of "
                f"{max_delay_steps(slots)} steps for population {post.name!r} ({slots} ring-buffer slots "
                f"at {post.neurons_per_core} neurons per core, plus {DELAY_EXTENSION_STAGES} delay-extension "
                f"stages); allowed IR delays: 0..{max_delay_steps(slots) - 1} steps")
    sources = {s.name: s.size for s in network.sources()}
    check_delay_extensions(populations, {**sources, **{p.name: p.size for p in network.neurons()}}, synapses)
    return SpiNNakerLayout(network.name, network.dt_ms, step_bits, scale, populations, sources, synapses)


def check_delay_extensions(populations: dict[str, PopulationLayout], sizes: dict[str, int],
                           synapses: list[SynapseList]) -> None:
    """Raise :class:`TargetLimitError` for delay-extension set-ups sPyNNaker 1!7.4.1 cannot build.

    * One delay extension per pre population, with one stage length for all its targets: every
      target whose synapses need it must have the same D.
    * The host lays out the extension's synaptic rows by the *post* core's neuron count but reads
      them (and, we expect, routes them) by the *pre* population's size. Found by the read-back
      parity (synapses of stages >= 2 went missing): so stages >= 2 need
      ``pre size == post neurons on a core``, and stage 1 needs ``pre size <= post neurons on a core``.
    """
    stage_lengths: dict[str, dict[int, str]] = {}
    stages: dict[str, int] = {}
    for synapse_list in synapses:
        post = populations[synapse_list.post_population]
        if int(synapse_list.delay_steps.max()) > post.slots:
            seen = stage_lengths.setdefault(synapse_list.pre_population, {})
            seen.setdefault(post.slots, synapse_list.projection)
            if len(seen) > 1:
                detail = ", ".join(f"{name} needs stages of {d} steps" for d, name in seen.items())
                raise TargetLimitError(
                    f"projections[{synapse_list.projection}]: population {synapse_list.pre_population!r} "
                    f"would need one delay extension with two stage lengths ({detail}); sPyNNaker allows "
                    "one; give the post populations the same neurons_per_core (option neurons_per_core)")
            stage, _ = split_delay(synapse_list.delay_steps, post.slots)
            stages[synapse_list.pre_population] = max(stages.get(synapse_list.pre_population, 0), int(stage.max()))
    for synapse_list in synapses:
        post = populations[synapse_list.post_population]
        if synapse_list.pre_population not in stages or int(synapse_list.delay_steps.max()) <= post.slots:
            continue
        n_pre, on_core = sizes[synapse_list.pre_population], min(post.size, post.neurons_per_core)
        worst_stage = stages[synapse_list.pre_population]
        if n_pre == on_core or (worst_stage == 1 and n_pre <= on_core):
            continue
        limit = post.slots * (2 if n_pre <= on_core else 1)
        raise TargetLimitError(
            f"projections[{synapse_list.projection}]: delays of up to {int(synapse_list.delay_steps.max()) - 1} "
            f"steps need {worst_stage} delay-extension stage(s) of {post.slots} steps from population "
            f"{synapse_list.pre_population!r} ({n_pre} neurons) to {post.name!r} ({on_core} neurons per core); "
            f"sPyNNaker {SPYNNAKER_VERSION} builds such stages correctly only when the pre population has "
            f"exactly as many neurons as a post core (any stage) or no more (one stage); allowed here: IR delays "
            f"up to {limit - 1} steps; or choose neurons_per_core so that the delays fit on the core")


# ----- post-training quantizer -----------------------------------------------------------------
@dataclass
class QuantizationReport:
    """Every lossy step of :func:`quantize_for_spinnaker`, counted (nothing is changed silently)."""

    target: str = TARGET
    voltage_scale_mv: float = 1.0
    shift_policy: str = "worst_case"
    shifts: dict[str, int] = field(default_factory=dict)
    weights_rounded: int = 0
    weights_rounded_to_zero: int = 0
    max_weight_error: float = 0.0
    delays_rounded: int = 0
    neurons_that_may_saturate: dict[str, int] = field(default_factory=dict)
    parameters_rounded: dict[str, int] = field(default_factory=dict)
    dynamics_factors: dict[str, dict[str, float]] = field(default_factory=dict)
    neurons_per_core: dict[str, int] = field(default_factory=dict)
    delay_extensions: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items()}

    def summary(self) -> str:
        lines = [f"SpiNNaker quantization (voltage scale {self.voltage_scale_mv:g} mV/unit, "
                 f"shift policy {self.shift_policy})",
                 f"  ring-buffer shifts: {self.shifts}",
                 f"  weights rounded: {self.weights_rounded} (to zero: {self.weights_rounded_to_zero}), "
                 f"max |error| {self.max_weight_error:.3g} units (none clipped: the shift fits them)",
                 f"  delays rounded to whole steps: {self.delays_rounded}",
                 f"  neurons whose ring buffer may saturate: {self.neurons_that_may_saturate}",
                 f"  s16.15 parameters rounded: {self.parameters_rounded}",
                 f"  neurons per core: {self.neurons_per_core}; delay extensions: {self.delay_extensions}"]
        return "\n".join(lines)


SHIFT_POLICIES = ("worst_case", "largest_weight")


def word_limit(shift: int) -> int:
    """Largest weight word (and slot sum) usable at ``shift``: 65535, and ``word << shift`` must stay
    a positive int32 (at shift 16 that leaves 32767)."""
    return min(WEIGHT_WORD_MAX, S1615_MAX_BITS >> shift)


def _shift_for(magnitude_words_at_zero_shift: float) -> int:
    """Smallest shift s >= 0 with rint(m / 2^s) <= word_limit(s), m the magnitude in shift-0 units."""
    shift = 0
    while np.rint(magnitude_words_at_zero_shift / 2.0 ** shift) > word_limit(shift):
        shift += 1
    return shift


def quantize_for_spinnaker(network: Network, *, voltage_scale_mv: float = 16.0,
                           shift_policy: str = "worst_case",
                           neurons_per_core: int | dict[str, int] | None = None
                           ) -> tuple[Network, QuantizationReport]:
    """Quantize a float IR network for SpiNNaker ``IF_curr_exp``.

    voltage_scale_mv: mV per IR voltage unit (``k`` in the module docstring); weights become
        ``k W`` nA. Larger values give V and small weights finer resolution but less range.
    shift_policy: ``"worst_case"`` picks, per post population, the smallest ring-buffer shift for
        which the sum of all same-sign incoming weights of any neuron fits 16 bits (no slot can
        saturate); ``"largest_weight"`` only fits the largest single weight (finer weights; the
        report counts the neurons whose slot may saturate).
    neurons_per_core: pin it (one int for all, or per population); None chooses per population the
        largest power of two <= 256 whose cores hold the population's delays (at least 16).

    Returns the quantized network (integer weights in ``WeightFormat('spinnaker', 17, shift - 15,
    1/k)``, int64 delays, settings in ``provenance['spinnaker']``) and the report.
    """
    if shift_policy not in SHIFT_POLICIES:
        raise ValidationError("shift_policy", f"unknown policy {shift_policy!r}", ", ".join(SHIFT_POLICIES))
    scale = float(voltage_scale_mv)
    if not math.isfinite(scale) or scale <= 0:
        raise ValidationError("voltage_scale_mv", f"{voltage_scale_mv} is out of range", "finite and > 0")
    if not network.projections:
        raise ValidationError("projections", "the network has no projections", "at least one projection")
    report = QuantizationReport(voltage_scale_mv=scale, shift_policy=shift_policy)

    delays: dict[str, np.ndarray] = {}
    for projection in network.projections:
        raw = np.where(projection.existing(), projection.delays_steps, 0)
        rounded = np.floor(raw + 0.5) if raw.dtype.kind == "f" else raw.astype(np.float64)
        report.delays_rounded += int(np.count_nonzero(projection.existing() & (rounded != raw)))
        delays[projection.name] = rounded.astype(np.int64)    # floor(d + 0.5) of d in [0, max] stays in range

    # shift per post population, in nA of the weights (R = 1 MOhm, so k W nA)
    shifts: dict[str, int] = {}
    for population in network.neurons():
        incoming = network.incoming(population.name)
        if not incoming:
            shifts[population.name] = 0
            continue
        excitatory = np.zeros(population.size)
        inhibitory = np.zeros(population.size)
        largest = 0.0
        for projection in incoming:
            nA = np.where(projection.existing(), projection.weights, 0.0) * scale
            excitatory += np.clip(nA, 0, None).sum(axis=0)
            inhibitory += np.clip(-nA, 0, None).sum(axis=0)
            largest = max(largest, float(np.abs(nA).max(initial=0.0)))
        needed = max(excitatory.max(), inhibitory.max()) if shift_policy == "worst_case" else largest
        shift = _shift_for(needed * S1615_ONE)
        if shift > MAX_SHIFT:
            raise TargetLimitError(f"populations[{population.name}]: incoming weights of up to {needed:g} nA "
                                   f"need a ring-buffer shift of {shift}; allowed: 0..{MAX_SHIFT}; "
                                   "lower voltage_scale_mv")
        shifts[population.name] = shift
        limit = word_limit(shift) * weight_unit_nA(shift)
        report.neurons_that_may_saturate[population.name] = int(
            np.count_nonzero((excitatory > limit) | (inhibitory > limit)))
    report.shifts = shifts

    projections: list[Projection] = []
    for projection in network.projections:
        shift = shifts[projection.post]
        unit_nA = weight_unit_nA(shift)
        exact_words = np.where(projection.existing(), projection.weights, 0.0) * scale / unit_nA
        words = np.rint(exact_words)                 # the shift makes every word fit: nothing is clipped
        exists = projection.existing()
        report.weights_rounded += int(np.count_nonzero(exists & (words != exact_words)))
        report.weights_rounded_to_zero += int(np.count_nonzero(exists & (words == 0) & (exact_words != 0)))
        weight_format = WeightFormat(TARGET, WEIGHT_MANTISSA_BITS, shift - S1615_FRACTION_BITS, 1.0 / scale)
        integer_weights = words.astype(np.int64)
        float_weights = weight_format.to_float(integer_weights)
        report.max_weight_error = max(report.max_weight_error, float(
            np.abs(np.where(exists, float_weights - projection.weights, 0.0)).max(initial=0.0)))
        projections.append(replace(projection, weights=float_weights, delays_steps=delays[projection.name],
                                   integer_weights=integer_weights, weight_format=weight_format))

    if neurons_per_core is None:
        pinned: dict[str, int] = {}
    elif isinstance(neurons_per_core, dict):
        pinned = {str(k): int(v) for k, v in neurons_per_core.items()}
    else:
        pinned = {p.name: int(neurons_per_core) for p in network.neurons()}
    for name, value in pinned.items():
        if not 1 <= value <= DEFAULT_NEURONS_PER_CORE:
            raise ValidationError(f"neurons_per_core[{name}]", f"{value} is out of range",
                                  f"1..{DEFAULT_NEURONS_PER_CORE}")
    provenance = dict(network.provenance)
    provenance["spinnaker"] = {"voltage_scale_mv": scale, "shift_policy": shift_policy, "shifts": shifts,
                               "neurons_per_core": pinned, "spynnaker": SPYNNAKER_VERSION}
    quantized = network.with_projections(projections, provenance=provenance)
    layout = build_layout(quantized)

    for population in network.neurons():
        placed = layout.populations[population.name]
        report.neurons_per_core[population.name] = placed.neurons_per_core
        if placed.needs_delay_extension:
            report.delay_extensions.append(population.name)
        for key, values in placed.pynn_parameters.items():
            if key in placed.bits and not (population.kind == "leaky_integrator" and key == "v_thresh"):
                inexact = int(np.count_nonzero(decode_s1615(placed.bits[key]) != values))
                if inexact:
                    report.parameters_rounded[f"{population.name}.{key}"] = inexact
        if isinstance(population, LIF) and np.any(placed.t_refract != population.refractory_steps):
            raise TargetLimitError(f"populations[{population.name}].refractory_steps: the chip derives "
                                   f"{sorted(set(placed.t_refract.tolist()))} steps from tau_refrac, not "
                                   f"{population.refractory_steps} (dt {network.dt_ms} ms is not exact in s16.15)")
        alpha, beta, i_scale = decays(population, network.dt_ms)
        chip_alpha = decode_s1615(placed.exp_tc)
        chip_beta = placed.decay / 2.0 ** 32
        chip_init = placed.init / 2.0 ** 32
        report.dynamics_factors[population.name] = {
            "max_abs_alpha_error": float(np.abs(chip_alpha - alpha).max()),
            "max_abs_beta_error": float(np.abs(chip_beta - beta).max()),
            "max_abs_i_scale_error": float(np.abs(chip_init - i_scale).max()),
            "r_membrane_MOhm": float(decode_s1615(placed.r_membrane).max())}
    quantized = quantized.with_projections(quantized.projections, provenance={
        **quantized.provenance, "quantization": report.as_dict()})
    return quantized, report
