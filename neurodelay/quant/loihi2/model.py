"""The integer Loihi 2 model of a quantized network (Lava LIF and Dense / DelayDense parameters) and
the deterministic encoding that refuses anything not representable (docs/loihi2.md §L4)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import TargetLimitError
from ...ir import LIF, LeakyIntegrator, Network, as_vector, decays
from .formats import DEFAULT_VTH, FORMAT, READOUT_VTH, TARGET, VTH_METADATA


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
        raise TargetLimitError(
            f"{field}: {meaning} is {value!r}, not a whole number; quantize the "
            "network for loihi2 first (quantize_network)"
        )
    return int(nearest)


def uniform(value: Any, size: int, field: str, why: str) -> float:
    """The single value of a per-neuron parameter that Loihi holds once per population."""
    vector = as_vector(value, size)
    if np.any(vector != vector[0]):
        raise TargetLimitError(
            f"{field}: per-neuron values {vector.min()}..{vector.max()} but Loihi 2 "
            f"holds {why} once per LIF process (allowed: one value per population)"
        )
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
            raise TargetLimitError(
                f"{field}.refractory_steps: {population.refractory_steps}, but Lava's "
                "fixed-point LIF has no refractory period (allowed: 0)"
            )
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
            scaled = value / 2.0**exponent
            if round(scaled) <= high and round(scaled) >= low:
                mant[neuron] = _whole(scaled, f"{field}[{neuron}]", f"bias in units of 2**{exponent} LSB")
                exp[neuron] = exponent
                break
        else:
            raise TargetLimitError(
                f"{field}[{neuron}]: bias of {value} v-LSBs exceeds Loihi 2's range "
                f"(allowed: |bias_mant| <= {high} with bias_exp <= {FORMAT.bias_exp_range[1]})"
            )
    return mant, exp


def incoming_scale(network: Network, population: str) -> float | None:
    """The shared ``WeightFormat.scale`` (= 64 / c_u) of the projections into ``population``."""
    scales = {p.name: p.weight_format.scale for p in network.incoming(population)}
    if not scales:
        return None
    first = next(iter(scales.values()))
    for name, scale in scales.items():
        if abs(scale - first) > _TOLERANCE * first:
            raise TargetLimitError(
                f"projection {name!r}: weight scale {scale} differs from {first} of the other "
                f"projections into {population!r}; on Loihi 2 every input of a population "
                "adds to the same u (allowed: one scale per post population)"
            )
    return first


def check_has_neurons(network: Network) -> None:
    """TargetLimitError for a network of spike sources only: Lava's graph starts at a LIF process."""
    if all(population.kind == "spike_source" for population in network.populations):
        raise TargetLimitError(
            "populations: only spike sources; Loihi 2 runs LIF processes "
            "(allowed: at least one LIF or leaky-integrator population)"
        )


def integer_model(network: Network) -> Loihi2Model:
    """Integer Loihi 2 parameters of a network quantized for ``loihi2`` (see the module docstring)."""
    check_has_neurons(network)
    for index, projection in enumerate(network.projections):
        if projection.weight_format is None or projection.weight_format.target != TARGET:
            raise TargetLimitError(
                f"projections[{index}] ({projection.name!r}): not quantized for loihi2 "
                "(run quantize_network or `neurodelay quantize --target loihi2`)"
            )
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
            v_per_unit = (
                64.0
                * int(population.metadata.get(VTH_METADATA, DEFAULT_VTH))
                / (1.0 if readout else uniform(population.threshold, population.size, f"{field}.threshold", "vth"))
            )
        else:
            v_per_unit = 64.0 / scale / decay_factor
        if readout:
            vth = READOUT_VTH
        else:
            threshold = uniform(population.threshold, population.size, f"{field}.threshold", "vth")
            vth = _whole(v_per_unit * threshold / 64.0, f"{field}.threshold", "64*vth/threshold scaled threshold")
            if not FORMAT.vth_range[0] <= vth <= FORMAT.vth_range[1]:
                raise TargetLimitError(
                    f"{field}.threshold: encodes to vth={vth} (allowed: {FORMAT.vth_range[0]}..{FORMAT.vth_range[1]})"
                )
            v_per_unit = 64.0 * vth / threshold
        bias_lsb = v_per_unit * (1.0 - alpha) * as_vector(population.bias, population.size)
        bias_mant, bias_exp = bias_encoding(bias_lsb, f"{field}.bias")
        neurons.append(
            Loihi2Neurons(
                population.name,
                population.size,
                du,
                dv,
                vth,
                bias_mant,
                bias_exp,
                u_per_unit=v_per_unit * decay_factor,
                v_per_unit=v_per_unit,
                readout=readout,
            )
        )
    synapses = [encode_projection(network, index) for index in range(len(network.projections))]
    return Loihi2Model(network.name, {s.name: s.size for s in network.sources()}, tuple(neurons), tuple(synapses))


def encode_projection(network: Network, index: int) -> Loihi2Synapses:
    """Integer weights, delays, weight_exp and sign mode of projection ``index`` (raw, not yet checked)."""
    projection = network.projections[index]
    existing = projection.existing()
    weights = np.where(existing, projection.integer_weights, 0)
    delays = np.where(existing, projection.integer_delays(), 0)
    return Loihi2Synapses(
        projection.name,
        projection.pre,
        projection.post,
        weights.astype(np.int64),
        delays.astype(np.int64),
        int(projection.weight_format.exponent),
        sign_mode_of(weights[existing]),
    )
