"""Loihi 2 (through Lava's bit-accurate ``fixed_pt`` models): the integer formats as data, the
encoding of a Loihi-2-quantized IR network into integer Loihi parameters, and a post-training
quantizer.

Scale mapping (derivation). Lava's LIF computes, per step (docs/loihi2.md §L1, §L4)

    u[n] = ((4095 - du) / 4096) * u[n-1] + 64 * a[n]            a = summed integer synaptic input
    v[n] = ((4096 - dv) / 4096) * v[n-1] + u[n] + bias_mant * 2**bias_exp
    spike when v[n] > 64 * vth, then v := 0

and the IR (``neurodelay.ir.nodes``, with rest = reset = 0 and no refractory period)

    I[n] = beta * I[n-1] + w_arriving[n]
    V[n] = alpha * V[n-1] + (1 - alpha) * (i_scale * I[n] + bias);   spike when V[n] >= threshold

With ``v = c_v * V`` and ``u = c_u * I`` both equations coincide when

    4095 - du = 4096 * beta          4096 - dv = 4096 * alpha
    c_v = 64 * vth / threshold        c_u = c_v * (1 - alpha) * i_scale
    integer_weight * 2**weight_exp = c_u * w / 64                      (the IR's WeightFormat.scale = 64 / c_u)
    bias_mant * 2**bias_exp = c_v * (1 - alpha) * bias

up to the integer truncations of the chip (decays truncate toward zero) and the comparison
(Loihi's strict ``>`` against the IR's ``>=``, which differ only when V lands exactly on the
threshold). Loihi has no refractory period, resets v to 0 and has no rest potential: a network
that needs any of these raises :class:`~neurodelay.errors.TargetLimitError`.

A quantized network (output of :func:`quantize_network`) holds float parameters that are exactly
representable: its time constants give integer du/dv, its weights equal ``integer_weights * scale *
2**exponent`` and its biases encode without rounding. :func:`integer_model` turns it into a
:class:`Loihi2Model` deterministically and refuses (naming the field) anything that is not
representable, so the integers never silently differ from the network they came from.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import TargetLimitError, ValidationError
from ..ir import LIF, LeakyIntegrator, Network, Projection, WeightFormat, as_vector, decays
from .chip_report import ChipReport, QuantizedNetwork

TARGET = "loihi2"


@dataclass(frozen=True)
class Loihi2Format:
    """Loihi 2's integer formats as seen by Lava 0.10.0's bit-accurate CPU models.

    Weights: an 8-bit magnitude with a per-connection sign mode. Lava clips to
    ``weight_range[sign_mode]`` and then drops ``8 - num_weight_bits (+1 if mixed)`` low bits
    (a floor), so with 8 weight bits mixed-sign connections hold even values only. The delivered
    value spans [-256, 255], hence ``WeightFormat.mantissa_bits = 9`` in the IR.
    weight_exp: shared per connection, applied to the per-step sum; Lava's CPU model accepts any
    value, the hardware range is about [-8, 7]; the quantizer uses [0, 7] because a negative
    exponent floors the *sum* in Lava but each synapse on the chip.
    du, dv: 12-bit unsigned, in units of 1/4096 (u decays by (4095 - du)/4096: the "+1" of Lava's
    ds_offset; v by (4096 - dv)/4096). One value per population.
    u, v: 24-bit state; u wraps once (not modulo), v saturates at +-(2**23 - 1).
    vth: 17-bit unsigned mantissa, compared as ``v > vth << 6``. One value per population.
    bias: 13-bit signed mantissa and a 3-bit exponent, added to v unshifted (not x64).
    delays: Lava's DelayDense accepts 0..63 (6 bits, raising on > 63 only inside a worker, where
    it hangs); lava-dl's netx clamps to 62 and refuses 63 (``num_delay_bits``), so 62 is the
    largest delay that every Loihi 2 tool chain accepts. Latency: a spike at step t through
    delay d reaches the target's u at step t + 1 + d, exactly the IR's convention.
    """

    weight_magnitude_bits: int = 8
    weight_mantissa_bits_ir: int = 9
    weight_range: tuple[tuple[str, int, int], ...] = (
        ("mixed", -256, 255), ("excitatory", 0, 255), ("inhibitory", -255, 0))
    weight_exp_range: tuple[int, int] = (-8, 7)
    quantizer_weight_exp_range: tuple[int, int] = (0, 7)
    decay_range: tuple[int, int] = (0, 4095)
    decay_unity: int = 4096
    state_bits: int = 24
    vth_range: tuple[int, int] = (0, 2 ** 17 - 1)
    bias_mant_range: tuple[int, int] = (-4096, 4095)
    bias_exp_range: tuple[int, int] = (0, 7)
    delay_range: tuple[int, int] = (0, 62)
    activation_shift: int = 6
    threshold_shift: int = 6
    max_abs_activation: int = 2 ** 25 - 1

    @property
    def state_limit(self) -> int:
        """2**23: u wraps above it, v saturates at one less."""
        return 2 ** (self.state_bits - 1)

    def weight_limits(self, sign_mode: str) -> tuple[int, int]:
        for mode, low, high in self.weight_range:
            if mode == sign_mode:
                return low, high
        raise ValidationError("sign_mode", f"unknown sign mode {sign_mode!r}", "mixed, excitatory, inhibitory")


FORMAT = Loihi2Format()
SIGN_MODES = ("mixed", "excitatory", "inhibitory")
DEFAULT_VTH = 2 ** 13
"""Default threshold mantissa: v reaches threshold at 2**19, leaving 16 thresholds of headroom to
the 24-bit saturation."""
VTH_METADATA = "loihi2_vth"
"""Population metadata key holding the threshold mantissa the quantizer chose (read by :func:`integer_model`
only for a population without incoming projections, whose scale cannot come from a WeightFormat)."""
READOUT_VTH = FORMAT.vth_range[1]
"""Leaky-integrator readouts become LIFs with the largest threshold; v can only exceed 64 * READOUT_VTH
(8388544) inside 63 LSBs of the saturation value, which the quantization report states in network units."""


# ----- integer model ----------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Loihi2Neurons:
    """One Lava LIF process. ``bias_mant``/``bias_exp``: int64 ``[size]``; the rest are scalars.

    u_per_unit / v_per_unit: integer LSBs of u / v per network unit of I / V (c_u, c_v).
    readout: True when the IR population is a leaky integrator (vth = READOUT_VTH).
    """

    name: str
    size: int
    du: int
    dv: int
    vth: int
    bias_mant: np.ndarray
    bias_exp: np.ndarray
    u_per_unit: float
    v_per_unit: float
    readout: bool = False


@dataclass(frozen=True, eq=False)
class Loihi2Synapses:
    """One Lava Dense / DelayDense process from ``pre`` to ``post``.

    weights, delays_steps: int64 ``[n_pre, n_post]`` (the IR's layout; Lava's is the transpose).
    Absent synapses have weight 0 and delay 0. weights are the integers handed to Lava, which
    clips and drops bits according to sign_mode and num_weight_bits (see :func:`effective_weights`).
    """

    name: str
    pre: str
    post: str
    weights: np.ndarray
    delays_steps: np.ndarray
    weight_exp: int
    sign_mode: str
    num_weight_bits: int = 8

    @property
    def max_delay_steps(self) -> int:
        return int(self.delays_steps.max(initial=0))


@dataclass(frozen=True, eq=False)
class Loihi2Model:
    """Integer Loihi 2 parameters of a whole network; sources are ``{name: size}`` in IR order."""

    name: str
    sources: dict[str, int]
    neurons: tuple[Loihi2Neurons, ...]
    synapses: tuple[Loihi2Synapses, ...]

    def neuron(self, name: str) -> Loihi2Neurons:
        for population in self.neurons:
            if population.name == name:
                return population
        raise KeyError(name)


def effective_weights(weights: np.ndarray, sign_mode: str, num_weight_bits: int = 8) -> np.ndarray:
    """The integers Lava's Dense/DelayDense deliver for ``weights`` (int64, same shape).

    Clip to the sign mode's range, then drop ``8 - num_weight_bits (+1 if mixed)`` low bits:
    a floor for mixed and excitatory, a truncation of the magnitude for inhibitory.
    """
    low, high = FORMAT.weight_limits(sign_mode)
    dropped = FORMAT.weight_magnitude_bits - num_weight_bits + (1 if sign_mode == "mixed" else 0)
    weights = np.asarray(weights, dtype=np.int64)
    if sign_mode == "inhibitory":
        magnitude = np.clip(-weights, 0, -low)
        return -((magnitude >> dropped) << dropped)
    return (np.clip(weights, low, high) >> dropped) << dropped


def sign_mode_of(weights: np.ndarray) -> str:
    """Lava's automatic choice: all >= 0 (all zero included) excitatory, all <= 0 inhibitory, else mixed."""
    if np.all(weights >= 0):
        return "excitatory"
    if np.all(weights <= 0):
        return "inhibitory"
    return "mixed"


def effective_bias(bias_mant: np.ndarray, bias_exp: np.ndarray) -> np.ndarray:
    """``bias_mant << bias_exp`` (``>>`` for negative exponents) as int64, the value added to v each step."""
    mant = np.asarray(bias_mant, np.int64)
    exp = np.asarray(bias_exp, np.int64)
    return np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0))


# ----- encoding ---------------------------------------------------------------------------------
_TOLERANCE = 1e-6


def _whole(value: float, field: str, meaning: str) -> int:
    nearest = round(value)
    if abs(value - nearest) > _TOLERANCE * max(1.0, abs(value)):
        raise TargetLimitError(f"{field}: {meaning} is {value!r}, not a whole number; quantize the "
                               "network for loihi2 first (quantize_network)")
    return int(nearest)


def uniform(value: Any, size: int, field: str, why: str) -> float:
    """The single value of a per-neuron parameter that Loihi holds once per population."""
    vector = as_vector(value, size)
    if np.any(vector != vector[0]):
        raise TargetLimitError(f"{field}: per-neuron values {vector.min()}..{vector.max()} but Loihi 2 "
                               f"holds {why} once per LIF process (allowed: one value per population)")
    return float(vector[0])


def check_neuron_limits(network: Network, index: int) -> None:
    """TargetLimitError unless population ``index`` fits Loihi 2's LIF (rest 0, reset 0, no refractoriness)."""
    population = network.populations[index]
    field = f"populations[{index}]"
    if np.any(as_vector(population.rest, population.size) != 0):
        raise TargetLimitError(f"{field}.rest: Loihi 2's LIF has no rest potential (allowed: 0)")
    if isinstance(population, LIF):
        if np.any(as_vector(population.reset, population.size) != 0):
            raise TargetLimitError(f"{field}.reset: Loihi 2 resets v to 0 (allowed: 0)")
        if population.refractory_steps != 0:
            raise TargetLimitError(f"{field}.refractory_steps: {population.refractory_steps}, but Lava's "
                                   "fixed-point LIF has no refractory period (allowed: 0)")
        uniform(population.threshold, population.size, f"{field}.threshold", "vth")
    uniform(population.tau_m_ms, population.size, f"{field}.tau_m_ms", "dv")
    uniform(population.tau_syn_ms, population.size, f"{field}.tau_syn_ms", "du")


def decay_integers(population: LIF | LeakyIntegrator, dt_ms: float, field: str) -> tuple[int, int]:
    """(du, dv) of a population whose time constants are exactly representable."""
    alpha, beta, _ = decays(population, dt_ms)
    du = _whole(FORMAT.decay_unity - 1 - FORMAT.decay_unity * beta[0], f"{field}.tau_syn_ms", "4095 - 4096*beta")
    dv = _whole(FORMAT.decay_unity * (1.0 - alpha[0]), f"{field}.tau_m_ms", "4096*(1 - alpha)")
    return du, dv


def bias_encoding(bias_lsb: np.ndarray, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(bias_mant, bias_exp) int64 arrays for biases given in v LSBs; smallest exponent that fits."""
    mant = np.zeros(bias_lsb.shape, np.int64)
    exp = np.zeros(bias_lsb.shape, np.int64)
    low, high = FORMAT.bias_mant_range
    for neuron, value in enumerate(bias_lsb):
        for exponent in range(FORMAT.bias_exp_range[0], FORMAT.bias_exp_range[1] + 1):
            scaled = value / 2.0 ** exponent
            if round(scaled) <= high and round(scaled) >= low:
                mant[neuron] = _whole(scaled, f"{field}[{neuron}]", f"bias in units of 2**{exponent} LSB")
                exp[neuron] = exponent
                break
        else:
            raise TargetLimitError(f"{field}[{neuron}]: bias of {value} v-LSBs exceeds Loihi 2's range "
                                   f"(allowed: |bias_mant| <= {high} with bias_exp <= {FORMAT.bias_exp_range[1]})")
    return mant, exp


def incoming_scale(network: Network, population: str) -> float | None:
    """The shared ``WeightFormat.scale`` (= 64 / c_u) of the projections into ``population``."""
    scales = {p.name: p.weight_format.scale for p in network.incoming(population)}
    if not scales:
        return None
    first = next(iter(scales.values()))
    for name, scale in scales.items():
        if abs(scale - first) > _TOLERANCE * first:
            raise TargetLimitError(f"projection {name!r}: weight scale {scale} differs from {first} of the other "
                                   f"projections into {population!r}; on Loihi 2 every input of a population "
                                   "adds to the same u (allowed: one scale per post population)")
    return first


def integer_model(network: Network) -> Loihi2Model:
    """Integer Loihi 2 parameters of a network quantized for ``loihi2`` (see the module docstring)."""
    for index, projection in enumerate(network.projections):
        if projection.weight_format is None or projection.weight_format.target != TARGET:
            raise TargetLimitError(f"projections[{index}] ({projection.name!r}): not quantized for loihi2 "
                                   "(run quantize_network or `neurodelay quantize --target loihi2`)")
    neurons = []
    for index, population in enumerate(network.populations):
        if population.kind == "spike_source":
            continue
        field = f"populations[{index}]"
        check_neuron_limits(network, index)
        du, dv = decay_integers(population, network.dt_ms, field)
        alpha, _, i_scale = decays(population, network.dt_ms)
        decay_factor = (1.0 - alpha[0]) * i_scale[0]
        scale = incoming_scale(network, population.name)
        readout = isinstance(population, LeakyIntegrator)
        if scale is None:  # no input: the quantizer's choice is kept in the population's metadata
            v_per_unit = 64.0 * int(population.metadata.get(VTH_METADATA, DEFAULT_VTH)) / (
                1.0 if readout else uniform(population.threshold, population.size, f"{field}.threshold", "vth"))
        else:
            v_per_unit = 64.0 / scale / decay_factor
        if readout:
            vth = READOUT_VTH
        else:
            threshold = uniform(population.threshold, population.size, f"{field}.threshold", "vth")
            vth = _whole(v_per_unit * threshold / 64.0, f"{field}.threshold", "64*vth/threshold scaled threshold")
            if not FORMAT.vth_range[0] <= vth <= FORMAT.vth_range[1]:
                raise TargetLimitError(f"{field}.threshold: encodes to vth={vth} (allowed: "
                                       f"{FORMAT.vth_range[0]}..{FORMAT.vth_range[1]})")
            v_per_unit = 64.0 * vth / threshold
        bias_lsb = v_per_unit * (1.0 - alpha) * as_vector(population.bias, population.size)
        bias_mant, bias_exp = bias_encoding(bias_lsb, f"{field}.bias")
        neurons.append(Loihi2Neurons(population.name, population.size, du, dv, vth, bias_mant, bias_exp,
                                     u_per_unit=v_per_unit * decay_factor, v_per_unit=v_per_unit,
                                     readout=readout))
    synapses = [encode_projection(network, index) for index in range(len(network.projections))]
    return Loihi2Model(network.name, {s.name: s.size for s in network.sources()}, tuple(neurons), tuple(synapses))


def encode_projection(network: Network, index: int) -> Loihi2Synapses:
    """Integer weights, delays, weight_exp and sign mode of projection ``index`` (raw, not yet checked)."""
    projection = network.projections[index]
    existing = projection.existing()
    weights = np.where(existing, projection.integer_weights, 0)
    delays = np.where(existing, projection.integer_delays(), 0)
    return Loihi2Synapses(projection.name, projection.pre, projection.post, weights.astype(np.int64),
                          delays.astype(np.int64), int(projection.weight_format.exponent),
                          sign_mode_of(weights[existing]))


# ----- post-training quantization ---------------------------------------------------------------
@dataclass
class QuantChange:
    """One lossy step: ``count`` values of ``field`` were ``kind`` (rounded / clipped / zeroed)."""

    field: str
    kind: str
    count: int
    total: int
    max_abs_error: float
    unit: str


@dataclass
class QuantReport(ChipReport):
    """Everything :func:`quantize_network` changed, plus the chosen integer scales."""

    target: str = TARGET
    changes: list[QuantChange] = field(default_factory=list)
    scales: dict[str, dict[str, float]] = field(default_factory=dict)

    def add(self, field_name: str, kind: str, changed: np.ndarray, error: np.ndarray, unit: str) -> None:
        count = int(np.count_nonzero(changed))
        if count:
            self.changes.append(QuantChange(field_name, kind, count, int(changed.size),
                                            float(np.max(np.abs(error[changed]))), unit))

    def count(self, kind: str) -> int:
        return sum(change.count for change in self.changes if change.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "changes": [asdict(c) for c in self.changes], "scales": self.scales}

    def lines(self) -> list[str]:
        if not self.changes:
            return ["loihi2 quantization: lossless"]
        return [f"{c.field}: {c.kind} {c.count}/{c.total} (max |error| {c.max_abs_error:.4g} {c.unit})"
                for c in self.changes]


def _snap_decays(population, dt_ms: float, where: str, report: QuantReport):
    """Time constants replaced by the nearest ones Loihi's du/dv represent (clamped to keep taus finite)."""
    alpha, beta, _ = decays(population, dt_ms)
    du_exact = FORMAT.decay_unity - 1 - FORMAT.decay_unity * beta[0]
    dv_exact = FORMAT.decay_unity * (1.0 - alpha[0])
    du = int(np.clip(np.floor(du_exact + 0.5), 0, FORMAT.decay_range[1] - 1))  # du = 4095 means tau_syn = 0
    dv = int(np.clip(np.floor(dv_exact + 0.5), 1, FORMAT.decay_range[1]))      # dv = 0 means tau_m = infinity
    for name, exact, chosen, low, high in (("tau_syn_ms", du_exact, du, 0, 4094), ("tau_m_ms", dv_exact, dv, 1, 4095)):
        clipped = not (low - 0.5 <= exact <= high + 0.5)
        report.add(f"{where}.{name}", "clipped" if clipped else "rounded",
                   np.array([abs(exact - chosen) > 1e-12]), np.array([exact - chosen]), "1/4096 decay")
    beta_q = (FORMAT.decay_unity - 1 - du) / FORMAT.decay_unity
    alpha_q = (FORMAT.decay_unity - dv) / FORMAT.decay_unity
    return -dt_ms / math.log(alpha_q), -dt_ms / math.log(beta_q)


def _quantize_bias(bias_lsb: np.ndarray, where: str, report: QuantReport) -> np.ndarray:
    """Biases (v LSBs) rounded to mant * 2**exp with the smallest exponent that fits; clipped beyond."""
    low, high = FORMAT.bias_mant_range
    top = FORMAT.bias_exp_range[1]
    exponent = np.zeros(bias_lsb.shape)
    for candidate in range(top, -1, -1):
        fits = np.floor(bias_lsb / 2.0 ** candidate + 0.5)
        exponent = np.where((fits >= low) & (fits <= high), candidate, exponent)
    mant = np.floor(bias_lsb / 2.0 ** exponent + 0.5)
    clipped = (mant < low) | (mant > high)
    mant = np.clip(mant, low, high)
    encoded = mant * 2.0 ** exponent
    report.add(where, "clipped", clipped, bias_lsb - encoded, "v LSB")
    report.add(where, "rounded", ~clipped & (encoded != bias_lsb), bias_lsb - encoded, "v LSB")
    return encoded


def quantize_weights(values: np.ndarray, existing: np.ndarray, sign_mode: str, where: str,
                     report: QuantReport) -> tuple[np.ndarray, int]:
    """Integer weights and weight_exp for ``values`` (= c_u * w / 64, integer LSBs at exponent 0).

    The exponent is the smallest in the quantizer's range whose mantissa grid holds max |value|
    (max-abs choice); mantissas are rounded half up onto Lava's grid (even numbers for mixed).
    """
    low, high = FORMAT.weight_limits(sign_mode)
    step = 2 if sign_mode == "mixed" else 1
    high = high - (high % step)
    largest = float(np.max(values[existing], initial=0.0))
    smallest = float(np.min(values[existing], initial=0.0))
    first, last = FORMAT.quantizer_weight_exp_range
    exponent = first
    while exponent < last and not (largest / 2.0 ** exponent < high + step / 2
                                   and smallest / 2.0 ** exponent >= low - step / 2):
        exponent += 1
    mant = step * np.floor(values / 2.0 ** exponent / step + 0.5)
    clipped = existing & ((mant < low) | (mant > high))
    mant = np.where(existing, np.clip(mant, low, high), 0).astype(np.int64)
    error = values - mant * 2.0 ** exponent
    report.add(where, "clipped", clipped, error, "u/64 LSB")
    report.add(where, "zeroed", existing & ~clipped & (mant == 0) & (values != 0), error, "u/64 LSB")
    report.add(where, "rounded", existing & ~clipped & (mant != 0) & (error != 0), error, "u/64 LSB")
    return mant, exponent


def quantize_network(network: Network, *, vth: int = DEFAULT_VTH) -> QuantizedNetwork:
    """A copy of ``network`` whose parameters Loihi 2 represents exactly, and the report of every change.

    vth: threshold mantissa of every LIF population (its v reaches threshold at ``64 * vth``);
    leaky-integrator readouts use the same number of v LSBs per network unit (threshold 1.0).
    Raises TargetLimitError for what Loihi cannot do at all (rest, reset, refractoriness,
    per-neuron time constants or thresholds).
    """
    if not FORMAT.vth_range[0] < vth <= FORMAT.vth_range[1]:
        raise ValidationError("vth", f"{vth} is out of range", f"1..{FORMAT.vth_range[1]}")
    report = QuantReport()
    populations = []
    u_per_unit: dict[str, float] = {}
    for index, population in enumerate(network.populations):
        if population.kind == "spike_source":
            populations.append(population)
            continue
        field_name = f"populations[{index}]"
        check_neuron_limits(network, index)
        tau_m, tau_syn = _snap_decays(population, network.dt_ms, field_name, report)
        snapped = replace(population, tau_m_ms=tau_m, tau_syn_ms=tau_syn)
        alpha, _, i_scale = decays(snapped, network.dt_ms)
        reference = 1.0 if population.kind == "leaky_integrator" else uniform(
            population.threshold, population.size, f"{field_name}.threshold", "vth")
        v_per_unit = 64.0 * vth / reference
        leak = 1.0 - alpha[0]
        bias_lsb = _quantize_bias(v_per_unit * leak * as_vector(population.bias, population.size),
                                  f"{field_name}.bias", report)
        populations.append(replace(snapped, bias=bias_lsb / (v_per_unit * leak),
                                   metadata={**population.metadata, VTH_METADATA: vth}))
        u_per_unit[population.name] = v_per_unit * leak * i_scale[0]
        report.scales[population.name] = {"vth": vth if population.kind == "lif" else READOUT_VTH,
                                          "v_per_unit": v_per_unit, "u_per_unit": u_per_unit[population.name],
                                          "v_saturation_units": (FORMAT.state_limit - 1) / v_per_unit}
    projections = [_quantize_projection(network, index, u_per_unit, report)
                   for index in range(len(network.projections))]
    provenance = dict(network.provenance)
    provenance["quantization"] = report.to_dict()
    return QuantizedNetwork(Network(network.name, network.dt_ms, tuple(populations), tuple(projections), provenance),
                            report)


def _quantize_projection(network: Network, index: int, u_per_unit: dict[str, float],
                         report: QuantReport) -> Projection:
    projection = network.projections[index]
    field_name = f"projections[{index}]"
    existing = projection.existing()
    scale = 64.0 / u_per_unit[projection.post]
    values = projection.weights / scale
    sign_mode = sign_mode_of(projection.weights[existing])
    integers, exponent = quantize_weights(values, existing, sign_mode, f"{field_name}.weights", report)
    weight_format = WeightFormat(TARGET, FORMAT.weight_mantissa_bits_ir, exponent, scale)
    delays_exact = np.asarray(projection.delays_steps, np.float64)
    delays = np.floor(delays_exact + 0.5)
    top = min(projection.max_delay_steps, FORMAT.delay_range[1])
    clipped = existing & (delays > top)
    delays = np.where(existing, np.clip(delays, 0, top), 0)
    report.add(f"{field_name}.delays_steps", "clipped", clipped, delays_exact - delays, "steps")
    report.add(f"{field_name}.delays_steps", "rounded", existing & ~clipped & (delays != delays_exact),
               delays_exact - delays, "steps")
    return replace(projection, weights=weight_format.to_float(integers), delays_steps=delays.astype(np.int64),
                   max_delay_steps=top, integer_weights=integers, weight_format=weight_format)
