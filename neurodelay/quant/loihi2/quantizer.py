"""The post-training quantizer for Loihi 2 and its report (docs/loihi2.md §L4)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ...errors import TargetLimitError, ValidationError
from ...ir import Network, Projection, WeightFormat, as_vector, decays
from ..chip_report import ChipReport, QuantizedNetwork
from .formats import DEFAULT_VTH, FORMAT, READOUT_VTH, TARGET, VTH_METADATA
from .model import check_has_neurons, check_neuron_limits, sign_mode_of, uniform


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
            self.changes.append(
                QuantChange(field_name, kind, count, int(changed.size), float(np.max(np.abs(error[changed]))), unit)
            )

    def count(self, kind: str) -> int:
        return sum(change.count for change in self.changes if change.kind == kind)

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "changes": [asdict(c) for c in self.changes], "scales": self.scales}

    def lines(self) -> list[str]:
        if not self.changes:
            return ["loihi2 quantization: lossless"]
        return [
            f"{c.field}: {c.kind} {c.count}/{c.total} (max |error| {c.max_abs_error:.4g} {c.unit})"
            for c in self.changes
        ]


MIN_DT_MS = 16 * float(np.finfo(np.float64).tiny)
"""Smallest timestep (ms): the time constants Loihi's decays stand for reach down to ``dt / ln 4096``,
which must stay a normal float64 (a subnormal one holds too few bits to give back du and dv)."""


def _snap_decays(population, dt_ms: float, where: str, report: QuantReport):
    """Time constants replaced by the nearest ones Loihi's du/dv represent (clamped to keep taus finite)."""
    with np.errstate(over="ignore", invalid="ignore"):  # tau / dt beyond float64: only alpha, beta are used
        alpha, beta, _ = decays(population, dt_ms)
    du_exact = FORMAT.decay_unity - 1 - FORMAT.decay_unity * beta[0]
    dv_exact = FORMAT.decay_unity * (1.0 - alpha[0])
    du = int(np.clip(np.floor(du_exact + 0.5), 0, FORMAT.decay_range[1] - 1))  # du = 4095 means tau_syn = 0
    dv = int(np.clip(np.floor(dv_exact + 0.5), 1, FORMAT.decay_range[1]))  # dv = 0 means tau_m = infinity
    for name, exact, chosen, low, high in (("tau_syn_ms", du_exact, du, 0, 4094), ("tau_m_ms", dv_exact, dv, 1, 4095)):
        clipped = not (low - 0.5 <= exact <= high + 0.5)
        report.add(
            f"{where}.{name}",
            "clipped" if clipped else "rounded",
            np.array([abs(exact - chosen) > 1e-12]),
            np.array([exact - chosen]),
            "1/4096 decay",
        )
    beta_q = (FORMAT.decay_unity - 1 - du) / FORMAT.decay_unity
    alpha_q = (FORMAT.decay_unity - dv) / FORMAT.decay_unity
    return -dt_ms / math.log(alpha_q), -dt_ms / math.log(beta_q)


def _quantize_bias(bias_lsb: np.ndarray, where: str, report: QuantReport) -> np.ndarray:
    """Biases (v LSBs) rounded to mant * 2**exp with the smallest exponent that fits; clipped beyond."""
    low, high = FORMAT.bias_mant_range
    top = FORMAT.bias_exp_range[1]
    exponent = np.zeros(bias_lsb.shape)
    for candidate in range(top, -1, -1):
        fits = np.floor(bias_lsb / 2.0**candidate + 0.5)
        exponent = np.where((fits >= low) & (fits <= high), candidate, exponent)
    mant = np.floor(bias_lsb / 2.0**exponent + 0.5)
    clipped = (mant < low) | (mant > high)
    mant = np.clip(mant, low, high)
    encoded = mant * 2.0**exponent
    report.add(where, "clipped", clipped, bias_lsb - encoded, "v LSB")
    report.add(where, "rounded", ~clipped & (encoded != bias_lsb), bias_lsb - encoded, "v LSB")
    return encoded


def quantize_weights(
    values: np.ndarray, existing: np.ndarray, sign_mode: str, where: str, report: QuantReport
) -> tuple[np.ndarray, int]:
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
    while exponent < last and not (
        largest / 2.0**exponent < high + step / 2 and smallest / 2.0**exponent >= low - step / 2
    ):
        exponent += 1
    mant = step * np.floor(values / 2.0**exponent / step + 0.5)
    clipped = existing & ((mant < low) | (mant > high))
    mant = np.where(existing, np.clip(mant, low, high), 0).astype(np.int64)
    error = values - mant * 2.0**exponent
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
    check_has_neurons(network)
    if not network.dt_ms >= MIN_DT_MS:
        raise TargetLimitError(
            f"dt_ms: {network.dt_ms:g} ms is too small for Loihi 2's decays (allowed: at least "
            f"{MIN_DT_MS:.3g} ms, so that time constants down to dt / ln 4096 stay normal float64)"
        )
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
        reference = (
            1.0
            if population.kind == "leaky_integrator"
            else uniform(population.threshold, population.size, f"{field_name}.threshold", "vth")
        )
        v_per_unit = 64.0 * vth / reference
        leak = 1.0 - alpha[0]
        bias_lsb = _quantize_bias(
            v_per_unit * leak * as_vector(population.bias, population.size), f"{field_name}.bias", report
        )
        populations.append(
            replace(snapped, bias=bias_lsb / (v_per_unit * leak), metadata={**population.metadata, VTH_METADATA: vth})
        )
        u_per_unit[population.name] = v_per_unit * leak * i_scale[0]
        report.scales[population.name] = {
            "vth": vth if population.kind == "lif" else READOUT_VTH,
            "v_per_unit": v_per_unit,
            "u_per_unit": u_per_unit[population.name],
            "v_saturation_units": (FORMAT.state_limit - 1) / v_per_unit,
        }
    projections = [
        _quantize_projection(network, index, u_per_unit, report) for index in range(len(network.projections))
    ]
    provenance = dict(network.provenance)
    provenance["quantization"] = report.to_dict()
    return QuantizedNetwork(
        Network(network.name, network.dt_ms, tuple(populations), tuple(projections), provenance), report
    )


def _quantize_projection(network: Network, index: int, u_per_unit: dict[str, float], report: QuantReport) -> Projection:
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
    report.add(
        f"{field_name}.delays_steps",
        "rounded",
        existing & ~clipped & (delays != delays_exact),
        delays_exact - delays,
        "steps",
    )
    return replace(
        projection,
        weights=weight_format.to_float(integers),
        delays_steps=delays.astype(np.int64),
        max_delay_steps=top,
        integer_weights=integers,
        weight_format=weight_format,
    )
