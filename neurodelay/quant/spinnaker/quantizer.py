"""The post-training quantizer for SpiNNaker ``IF_curr_exp`` and its report."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ...errors import TargetLimitError, ValidationError
from ...ir import LIF, Network, Projection, WeightFormat, decays
from .fixed_point import decode_s1615
from .formats import (
    DEFAULT_NEURONS_PER_CORE,
    MAX_SHIFT,
    S1615_FRACTION_BITS,
    S1615_ONE,
    SPYNNAKER_VERSION,
    TARGET,
    WEIGHT_MANTISSA_BITS,
    weight_unit_nA,
    word_limit,
)
from ..chip_report import ChipReport, QuantizedNetwork
from .model import integer_model, timestep_bits


@dataclass
class QuantizationReport(ChipReport):
    """Every lossy step of :func:`quantize_network`, counted (nothing is changed silently)."""

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

    def to_dict(self) -> dict[str, Any]:
        return {key: value for key, value in vars(self).items()}

    def lines(self) -> list[str]:
        lines = [
            f"SpiNNaker quantization (voltage scale {self.voltage_scale_mv:g} mV/unit, "
            f"shift policy {self.shift_policy})",
            f"  ring-buffer shifts: {self.shifts}",
            f"  weights rounded: {self.weights_rounded} (to zero: {self.weights_rounded_to_zero}), "
            f"max |error| {self.max_weight_error:.3g} units (none clipped: the shift fits them)",
            f"  delays rounded to whole steps: {self.delays_rounded}",
            f"  neurons whose ring buffer may saturate: {self.neurons_that_may_saturate}",
            f"  s16.15 parameters rounded: {self.parameters_rounded}",
            f"  neurons per core: {self.neurons_per_core}; delay extensions: {self.delay_extensions}",
        ]
        return lines


SHIFT_POLICIES = ("worst_case", "largest_weight")


def _shift_for(magnitude_words_at_zero_shift: float) -> int | None:
    """Smallest shift s in 0..MAX_SHIFT with rint(m / 2^s) <= word_limit(s), m the magnitude in
    shift-0 units (possibly inf); None when no shift the chip has fits it."""
    for shift in range(MAX_SHIFT + 1):
        if np.rint(magnitude_words_at_zero_shift / 2.0**shift) <= word_limit(shift):
            return shift
    return None


def quantize_network(
    network: Network,
    *,
    voltage_scale_mv: float = 16.0,
    shift_policy: str = "worst_case",
    neurons_per_core: int | dict[str, int] | None = None,
) -> QuantizedNetwork:
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
    timestep_bits(network.dt_ms)  # a dt the chip's clock cannot run: refuse first

    delays: dict[str, np.ndarray] = {}
    for projection in network.projections:
        raw = np.where(projection.existing(), projection.delays_steps, 0)
        rounded = np.floor(raw + 0.5) if raw.dtype.kind == "f" else raw.astype(np.float64)
        report.delays_rounded += int(np.count_nonzero(projection.existing() & (rounded != raw)))
        delays[projection.name] = rounded.astype(np.int64)  # floor(d + 0.5) of d in [0, max] stays in range

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
            with np.errstate(over="ignore"):  # overflow is refused just below
                nA = np.where(projection.existing(), projection.weights, 0.0) * scale
            excitatory += np.clip(nA, 0, None).sum(axis=0)
            inhibitory += np.clip(-nA, 0, None).sum(axis=0)
            largest = max(largest, float(np.abs(nA).max(initial=0.0)))
        needed = max(excitatory.max(), inhibitory.max()) if shift_policy == "worst_case" else largest
        if not math.isfinite(needed):
            raise TargetLimitError(
                f"populations[{population.name}]: incoming weights times voltage_scale_mv "
                f"({scale:g}) overflow float64; allowed: |weight| * voltage_scale_mv < 1.8e308"
            )
        with np.errstate(over="ignore"):  # a product beyond float64 needs more than any shift
            shift = _shift_for(needed * S1615_ONE)
        if shift is None:
            raise TargetLimitError(
                f"populations[{population.name}]: incoming weights of up to {needed:g} nA "
                f"need a ring-buffer shift above {MAX_SHIFT}; allowed: 0..{MAX_SHIFT} "
                f"(at most {word_limit(MAX_SHIFT) * weight_unit_nA(MAX_SHIFT):g} nA); lower voltage_scale_mv"
            )
        shifts[population.name] = shift
        limit = word_limit(shift) * weight_unit_nA(shift)
        report.neurons_that_may_saturate[population.name] = int(
            np.count_nonzero((excitatory > limit) | (inhibitory > limit))
        )
    report.shifts = shifts

    projections: list[Projection] = []
    for projection in network.projections:
        shift = shifts[projection.post]
        unit_nA = weight_unit_nA(shift)
        exact_words = np.where(projection.existing(), projection.weights, 0.0) * scale / unit_nA
        words = np.rint(exact_words)  # the shift makes every word fit: nothing is clipped
        exists = projection.existing()
        report.weights_rounded += int(np.count_nonzero(exists & (words != exact_words)))
        report.weights_rounded_to_zero += int(np.count_nonzero(exists & (words == 0) & (exact_words != 0)))
        weight_format = WeightFormat(TARGET, WEIGHT_MANTISSA_BITS, shift - S1615_FRACTION_BITS, 1.0 / scale)
        integer_weights = words.astype(np.int64)
        float_weights = weight_format.to_float(integer_weights)
        report.max_weight_error = max(
            report.max_weight_error,
            float(np.abs(np.where(exists, float_weights - projection.weights, 0.0)).max(initial=0.0)),
        )
        projections.append(
            replace(
                projection,
                weights=float_weights,
                delays_steps=delays[projection.name],
                integer_weights=integer_weights,
                weight_format=weight_format,
            )
        )

    if neurons_per_core is None:
        pinned: dict[str, int] = {}
    elif isinstance(neurons_per_core, dict):
        pinned = {str(k): int(v) for k, v in neurons_per_core.items()}
    else:
        pinned = {p.name: int(neurons_per_core) for p in network.neurons()}
    for name, value in pinned.items():
        if not 1 <= value <= DEFAULT_NEURONS_PER_CORE:
            raise ValidationError(
                f"neurons_per_core[{name}]", f"{value} is out of range", f"1..{DEFAULT_NEURONS_PER_CORE}"
            )
    provenance = dict(network.provenance)
    provenance["spinnaker"] = {
        "voltage_scale_mv": scale,
        "shift_policy": shift_policy,
        "shifts": shifts,
        "neurons_per_core": pinned,
        "spynnaker": SPYNNAKER_VERSION,
    }
    quantized = network.with_projections(projections, provenance=provenance)
    layout = integer_model(quantized)

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
            raise TargetLimitError(
                f"populations[{population.name}].refractory_steps: the chip derives "
                f"{sorted(set(placed.t_refract.tolist()))} steps from tau_refrac, not "
                f"{population.refractory_steps} (dt {network.dt_ms} ms is not exact in s16.15)"
            )
        alpha, beta, i_scale = decays(population, network.dt_ms)
        chip_alpha = decode_s1615(placed.exp_tc)
        chip_beta = placed.decay / 2.0**32
        chip_init = placed.init / 2.0**32
        report.dynamics_factors[population.name] = {
            "max_abs_alpha_error": float(np.abs(chip_alpha - alpha).max()),
            "max_abs_beta_error": float(np.abs(chip_beta - beta).max()),
            "max_abs_i_scale_error": float(np.abs(chip_init - i_scale).max()),
            "r_membrane_MOhm": float(decode_s1615(placed.r_membrane).max()),
        }
    quantized = quantized.with_projections(
        quantized.projections, provenance={**quantized.provenance, "quantization": report.to_dict()}
    )
    return QuantizedNetwork(quantized, report)
