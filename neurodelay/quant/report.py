"""The target-neutral quantization report: per projection and per population, what quantization
changed, measured by comparing the float network with the quantized one.

The targets' own reports (their quantizers' second return value) count their lossy steps in their own terms;
this report is computed independently from the two networks, so it has the same shape for every
target and cross-checks theirs. Weight errors are in the network's current unit per spike, delay
errors in timesteps.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..errors import TargetLimitError
from ..ir import LIF, Network, Projection, as_vector
from ..ir.nodes import NEURON_PARAMETERS
from ..targets import Target

_RELATIVE_TOLERANCE = 1e-9


def as_json(value: Any) -> Any:
    """``value`` with numpy scalars and arrays turned into plain Python (for reports and YAML)."""
    if isinstance(value, dict):
        return {str(k): as_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


@dataclass
class ProjectionReport:
    """What quantization did to one projection.

    scale, exponent: the projection's ``WeightFormat`` (float = integer * scale * 2**exponent);
    weight_unit: ``scale * 2**exponent``, network units per integer LSB; weight_grid: integer step
    between representable weights (2 where a chip holds even integers only; larger after a bit-width
    reduction). Counts are over existing synapses: clipped (error above half a grid step: the value
    was outside the range), zeroed (a non-zero weight became 0), rounded (any other change).
    max_abs_weight_error / rms_weight_error: over existing synapses, network units.
    delays_rounded: non-integer delays; delays_clipped: delays whose integer value (round half up)
    exceeded the target's bound; max_abs_delay_error_steps: largest |quantized - float| delay.
    """

    name: str
    pre: str
    post: str
    synapses: int
    scale: float
    exponent: int
    weight_unit: float
    weight_grid: int
    weights_clipped: int
    weights_zeroed: int
    weights_rounded: int
    max_abs_weight_error: float
    rms_weight_error: float
    max_abs_weight: float
    delays_rounded: int
    delays_clipped: int
    max_abs_delay_error_steps: float


@dataclass
class ParameterChange:
    """A neuron parameter the target could not hold exactly: ``neurons`` of ``population`` changed,
    by at most ``max_abs_change`` (the parameter's unit: ms, voltage units, steps)."""

    population: str
    parameter: str
    neurons: int
    max_abs_change: float


@dataclass
class QuantizationSummary:
    """The whole report of one quantization (see the module docstring).

    options: how the quantization was asked for (scale selection, clip values, weight bits).
    target_report: the target quantizer's own report, as a plain dict.
    target_format: the target's format table (from its quantizer module), as a plain dict.
    """

    target: str
    network: str
    projections: list[ProjectionReport] = field(default_factory=list)
    parameters: list[ParameterChange] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    target_report: dict[str, Any] = field(default_factory=dict)
    target_format: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return as_json(
            {
                "target": self.target,
                "network": self.network,
                "projections": [asdict(p) for p in self.projections],
                "parameters": [asdict(p) for p in self.parameters],
                "options": self.options,
                "target_report": self.target_report,
                "target_format": self.target_format,
            }
        )

    def clipping(self) -> list[str]:
        """One line per projection (or parameter) where a value was clipped; empty when none."""
        lines = [
            f"projection {p.name!r}: {p.weights_clipped} weight(s) clipped (largest |weight| "
            f"{p.max_abs_weight:.4g}, max |error| {p.max_abs_weight_error:.4g})"
            for p in self.projections
            if p.weights_clipped
        ]
        lines += [
            f"projection {p.name!r}: {p.delays_clipped} delay(s) clipped to the target's bound "
            f"(max |error| {p.max_abs_delay_error_steps:g} steps)"
            for p in self.projections
            if p.delays_clipped
        ]
        lines += [
            f"{change['field']}: clipped ({change['count']}/{change['total']})"
            for change in self.target_report.get("changes", [])
            if change.get("kind") == "clipped" and change["field"].startswith("populations")
        ]
        return lines

    def check_strict(self) -> None:
        """TargetLimitError naming every projection where something was clipped (``--strict``)."""
        lines = self.clipping()
        if lines:
            raise TargetLimitError(
                f"{self.target} quantization of {self.network!r} clips values (--strict): " + "; ".join(lines)
            )

    def table(self) -> str:
        """The report as fixed-width text tables (projections, then changed parameters)."""
        header = (
            "projection",
            "synapses",
            "scale",
            "exp",
            "grid",
            "clipped",
            "zeroed",
            "rounded",
            "max|dw|",
            "rms dw",
            "d rounded",
            "d clipped",
            "max|dd|",
        )
        rows = [
            (
                p.name,
                str(p.synapses),
                f"{p.scale:.4g}",
                str(p.exponent),
                str(p.weight_grid),
                str(p.weights_clipped),
                str(p.weights_zeroed),
                str(p.weights_rounded),
                f"{p.max_abs_weight_error:.3g}",
                f"{p.rms_weight_error:.3g}",
                str(p.delays_rounded),
                str(p.delays_clipped),
                f"{p.max_abs_delay_error_steps:g}",
            )
            for p in self.projections
        ]
        lines = [f"{self.target} quantization of {self.network!r} ({self.options.get('scale', 'max-abs')} scales)"]
        lines += _format_table(header, rows)
        if self.parameters:
            lines.append("")
            lines += _format_table(
                ("population", "parameter", "neurons", "max|change|"),
                [(c.population, c.parameter, str(c.neurons), f"{c.max_abs_change:.4g}") for c in self.parameters],
            )
        else:
            lines.append("neuron parameters: unchanged")
        return "\n".join(lines)


def _format_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(cell.rjust(width) for cell, width in zip(cells, widths))  # noqa: E731
    return [line(header), line(tuple("-" * w for w in widths))] + [line(row) for row in rows]


def projection_report(target: Target, original: Projection, quantized: Projection) -> ProjectionReport:
    """Compare one float projection with its quantized version (see :class:`ProjectionReport`)."""
    existing = original.existing()
    weight_format = quantized.weight_format
    unit = weight_format.scale * 2.0**weight_format.exponent
    grid = int(quantized.metadata.get("weight_grid", target.weight_grid(quantized)))
    error = np.where(existing, quantized.weights - original.weights, 0.0)
    clipped = existing & (np.abs(error) > 0.5 * grid * unit * (1 + _RELATIVE_TOLERANCE))
    zeroed = existing & ~clipped & (quantized.integer_weights == 0) & (original.weights != 0)
    rounded = existing & ~clipped & ~zeroed & (error != 0)
    delays = np.asarray(original.delays_steps, np.float64)
    nearest = np.floor(delays + 0.5)
    quantized_delays = np.asarray(quantized.delays_steps, np.float64)
    count = int(existing.sum())
    return ProjectionReport(
        original.name,
        original.pre,
        original.post,
        count,
        float(weight_format.scale),
        int(weight_format.exponent),
        float(unit),
        grid,
        int(clipped.sum()),
        int(zeroed.sum()),
        int(rounded.sum()),
        float(np.abs(error).max(initial=0.0)),
        float(math.sqrt(float((error[existing] ** 2).mean()))) if count else 0.0,
        float(np.abs(np.where(existing, original.weights, 0.0)).max(initial=0.0)),
        int((existing & (delays != nearest)).sum()),
        int((existing & (quantized_delays != nearest)).sum()),
        float(np.abs(np.where(existing, quantized_delays - delays, 0.0)).max(initial=0.0)),
    )


def parameter_changes(original: Network, quantized: Network) -> list[ParameterChange]:
    """Every neuron parameter (and refractory period) that differs between the two networks."""
    changes = []
    for population in original.neurons():
        other = quantized.population(population.name)
        names = NEURON_PARAMETERS[population.kind]
        for name in names:
            before = as_vector(getattr(population, name), population.size)
            after = as_vector(getattr(other, name), population.size)
            differs = before != after
            if differs.any():
                changes.append(
                    ParameterChange(population.name, name, int(differs.sum()), float(np.abs(after - before).max()))
                )
        if isinstance(population, LIF) and population.refractory_steps != other.refractory_steps:
            changes.append(
                ParameterChange(
                    population.name,
                    "refractory_steps",
                    population.size,
                    float(abs(other.refractory_steps - population.refractory_steps)),
                )
            )
    return changes


def summarize(
    target: Target, original: Network, quantized: Network, target_report: Any, options: dict[str, Any] | None = None
) -> QuantizationSummary:
    """The :class:`QuantizationSummary` of ``original`` -> ``quantized`` on ``target``.

    target_report: the target quantizer's report (its ``to_dict()`` is kept).
    """
    return QuantizationSummary(
        target.name,
        original.name,
        [
            projection_report(target, original.projection(q.name), q)
            for q in quantized.projections
            if q.name in {p.name for p in original.projections}
        ],
        parameter_changes(original, quantized),
        dict(options or {}),
        as_json(target_report.to_dict()),
        target.format_table(),
    )
