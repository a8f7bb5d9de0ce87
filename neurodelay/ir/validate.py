"""Validation of IR nodes: shapes, ranges, references. Raises :class:`ValidationError` with a field path.

Everything here is plain checking and dtype normalisation; it never clips or rounds a value.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from ..errors import ValidationError
from .nodes import LIF, NEURON_PARAMETERS, LeakyIntegrator, Population, Projection, SpikeSource, WeightFormat

MAX_POPULATION_SIZE = 10_000_000
MAX_SYNAPSES_PER_PROJECTION = 2_000_000_000
MAX_DELAY_STEPS = 1_000_000
MAX_REFRACTORY_STEPS = 1_000_000
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,127}$")
NAME_RULE = "1-128 characters: a letter or '_' first, then letters, digits, '_', '.', '-'"
PARAMETER_RULES: dict[str, tuple[str, Any]] = {
    "tau_m_ms": ("finite and > 0 ms", lambda a: np.all(a > 0)),
    "tau_syn_ms": ("finite and > 0 ms", lambda a: np.all(a > 0)),
    "threshold": ("finite", None),
    "reset": ("finite", None),
    "rest": ("finite", None),
    "bias": ("finite", None),
}


def check_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or not NAME_PATTERN.match(value):
        raise ValidationError(field, f"invalid name {value!r}", NAME_RULE)
    return value


def check_int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise ValidationError(
            field, f"expected an integer, got {type(value).__name__} {value!r}", f"integer in [{low}, {high}]"
        )
    if not low <= int(value) <= high:
        raise ValidationError(field, f"{int(value)} is out of range", f"integer in [{low}, {high}]")
    return int(value)


def check_float(value: Any, field: str, allowed: str = "finite number", positive: bool = False) -> float:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ValidationError(field, f"expected a number, got {type(value).__name__}", allowed)
    number = float(value)
    if not math.isfinite(number) or (positive and number <= 0):
        raise ValidationError(field, f"{number} is out of range", allowed)
    return number


def _as_numeric_array(value: Any, field: str, shape: tuple[int, ...], allowed: str) -> np.ndarray:
    if not isinstance(value, np.ndarray):
        try:
            value = np.asarray(value)
        except (ValueError, TypeError) as error:
            raise ValidationError(field, f"not an array ({error})", allowed) from None
    if value.dtype.kind not in "biuf":
        raise ValidationError(field, f"dtype {value.dtype} is not numeric", allowed)
    if value.shape != shape:
        raise ValidationError(field, f"shape {list(value.shape)} does not match {list(shape)}", allowed)
    return value


def check_parameter(value: Any, field: str, size: int, rule: str, test: Any) -> float | np.ndarray:
    """A neuron parameter: a finite float, or a finite float array of shape ``[size]``."""
    if isinstance(value, np.ndarray) or isinstance(value, (list, tuple)):
        array = _as_numeric_array(value, field, (size,), f"{rule}; a number or an array of shape [{size}]")
        array = array.astype(np.float64)
        if not np.all(np.isfinite(array)) or (test is not None and not test(array)):
            raise ValidationError(
                field, f"contains values out of range (min {np.min(array)}, max {np.max(array)})", rule
            )
        return array
    number = check_float(value, field, rule)
    if test is not None and not test(np.asarray(number)):
        raise ValidationError(field, f"{number} is out of range", rule)
    return number


def normalized_population(population: Population, field: str) -> Population:
    """``population`` with names checked and parameters as float or float64 ``[size]``."""
    if not isinstance(population, (SpikeSource, LIF, LeakyIntegrator)):
        raise ValidationError(
            field, f"not a population node ({type(population).__name__})", "SpikeSource, LIF or LeakyIntegrator"
        )
    check_name(population.name, f"{field}.name")
    size = check_int(population.size, f"{field}.size", 1, MAX_POPULATION_SIZE)
    if not isinstance(population.metadata, dict):
        raise ValidationError(f"{field}.metadata", "expected a mapping", "a dict")
    changes: dict[str, Any] = {"size": size}  # a numpy integer becomes an int (the file writer takes only int)
    for name in NEURON_PARAMETERS[population.kind]:
        rule, test = PARAMETER_RULES[name]
        changes[name] = check_parameter(getattr(population, name), f"{field}.{name}", size, rule, test)
    if isinstance(population, LIF):
        changes["refractory_steps"] = check_int(
            population.refractory_steps, f"{field}.refractory_steps", 0, MAX_REFRACTORY_STEPS
        )
        gap = np.asarray(changes["threshold"]) - np.asarray(changes["reset"])
        if np.any(gap <= 0):
            raise ValidationError(
                f"{field}.reset", "reset must lie below threshold", "reset < threshold for every neuron"
            )
    return replace(population, **changes)


def normalized_projection(projection: Projection, field: str, populations: dict[str, Population]) -> Projection:
    """``projection`` with references, shapes and ranges checked and arrays in canonical dtypes."""
    if not isinstance(projection, Projection):
        raise ValidationError(field, f"not a Projection ({type(projection).__name__})", "Projection")
    check_name(projection.name, f"{field}.name")
    names = ", ".join(populations) or "none defined"
    for end in ("pre", "post"):
        target = getattr(projection, end)
        if not isinstance(target, str) or target not in populations:
            raise ValidationError(f"{field}.{end}", f"unknown population {target!r}", f"one of: {names}")
    pre, post = populations[projection.pre], populations[projection.post]
    if isinstance(pre, LeakyIntegrator):
        raise ValidationError(
            f"{field}.pre", f"{pre.name!r} is a leaky integrator and never spikes", "a spike source or a LIF population"
        )
    if isinstance(post, SpikeSource):
        raise ValidationError(
            f"{field}.post",
            f"{post.name!r} is a spike source and takes no input",
            "a LIF or leaky-integrator population",
        )
    shape = (pre.size, post.size)
    if pre.size * post.size > MAX_SYNAPSES_PER_PROJECTION:
        raise ValidationError(
            field, f"{pre.size}x{post.size} synapses are too many", f"at most {MAX_SYNAPSES_PER_PROJECTION}"
        )
    max_delay = check_int(projection.max_delay_steps, f"{field}.max_delay_steps", 0, MAX_DELAY_STEPS)
    weights = _as_numeric_array(
        projection.weights, f"{field}.weights", shape, f"finite numbers, shape [n_pre={shape[0]}, n_post={shape[1]}]"
    )
    weights = weights.astype(np.float64)
    if not np.all(np.isfinite(weights)):
        raise ValidationError(f"{field}.weights", "contains NaN or infinity", "finite numbers")
    delays = _as_numeric_array(
        projection.delays_steps,
        f"{field}.delays_steps",
        shape,
        f"numbers in [0, {max_delay}] steps, shape [{shape[0]}, {shape[1]}]",
    )
    if delays.dtype.kind == "b":
        delays = delays.astype(np.int64)
    # the range is checked before the cast to int64, which wraps a uint64 above 2**63 to a negative number
    if not np.all(np.isfinite(delays)) or np.any(delays < 0) or np.any(delays > max_delay):
        finite = delays[np.isfinite(delays)] if delays.dtype.kind == "f" else delays
        worst = f"min {finite.min()}, max {finite.max()}" if finite.size else "no finite value"
        raise ValidationError(
            f"{field}.delays_steps",
            f"values out of range ({worst}, or NaN/inf)",
            f"finite steps in [0, max_delay_steps={max_delay}]",
        )
    delays = delays.astype(np.int64) if delays.dtype.kind in "iu" else delays.astype(np.float64)
    mask = projection.mask
    if mask is not None:
        mask = _as_numeric_array(mask, f"{field}.mask", shape, f"booleans, shape [{shape[0]}, {shape[1]}]")
        if mask.dtype.kind != "b":
            if not np.all((mask == 0) | (mask == 1)):
                raise ValidationError(f"{field}.mask", "contains values other than 0 and 1", "booleans")
            mask = mask.astype(bool)
        absent = ~mask
        if np.any(weights[absent] != 0) or np.any(delays[absent] != 0):
            raise ValidationError(
                f"{field}.weights",
                "absent synapses (mask False) carry a non-zero weight or delay",
                "0 where mask is False",
            )
    integer_weights, weight_format = projection.integer_weights, projection.weight_format
    if (integer_weights is None) != (weight_format is None):
        raise ValidationError(
            f"{field}.weight_format",
            "integer_weights and weight_format come together",
            "both present (quantized) or both absent (float)",
        )
    if weight_format is not None:
        weight_format = normalized_weight_format(weight_format, f"{field}.weight_format")
        integer_weights = _as_numeric_array(
            integer_weights, f"{field}.integer_weights", shape, f"integers, shape [{shape[0]}, {shape[1]}]"
        )
        if integer_weights.dtype.kind not in "biu":
            raise ValidationError(
                f"{field}.integer_weights", f"dtype {integer_weights.dtype} is not an integer type", "integers"
            )
        integer_weights = integer_weights.astype(np.int64)
        limit = 2 ** (weight_format.mantissa_bits - 1)
        if np.any(integer_weights < -limit) or np.any(integer_weights >= limit):
            raise ValidationError(
                f"{field}.integer_weights",
                f"values exceed the mantissa ({integer_weights.min()}..{integer_weights.max()})",
                f"[{-limit}, {limit - 1}] for {weight_format.mantissa_bits} bits",
            )
        if delays.dtype.kind == "f":
            if np.any(delays != np.round(delays)):
                raise ValidationError(
                    f"{field}.delays_steps", "a quantized projection has non-integer delays", "whole timesteps"
                )
            delays = delays.astype(np.int64)
        if not np.array_equal(weight_format.to_float(integer_weights), weights):
            raise ValidationError(
                f"{field}.weights",
                "do not equal the float value of integer_weights under weight_format",
                "weights == integer_weights * scale * 2**exponent",
            )
    if not isinstance(projection.metadata, dict):
        raise ValidationError(f"{field}.metadata", "expected a mapping", "a dict")
    return replace(
        projection,
        weights=weights,
        delays_steps=delays,
        max_delay_steps=max_delay,
        mask=mask,
        integer_weights=integer_weights,
        weight_format=weight_format,
    )


def normalized_weight_format(weight_format: WeightFormat, field: str) -> WeightFormat:
    if not isinstance(weight_format, WeightFormat):
        raise ValidationError(field, f"not a WeightFormat ({type(weight_format).__name__})", "WeightFormat")
    check_name(weight_format.target, f"{field}.target")
    return WeightFormat(
        target=weight_format.target,
        mantissa_bits=check_int(weight_format.mantissa_bits, f"{field}.mantissa_bits", 2, 32),
        exponent=check_int(weight_format.exponent, f"{field}.exponent", -64, 64),
        scale=check_float(weight_format.scale, f"{field}.scale", "finite and > 0", positive=True),
    )


def normalized_parts(
    populations: Sequence[Population], projections: Sequence[Projection]
) -> tuple[tuple[Population, ...], tuple[Projection, ...]]:
    """Check populations and projections of one network; return them normalised."""
    checked: dict[str, Population] = {}
    for index, population in enumerate(populations):
        population = normalized_population(population, f"populations[{index}]")
        if population.name in checked:
            raise ValidationError(
                f"populations[{index}].name", f"duplicate name {population.name!r}", "unique population names"
            )
        checked[population.name] = population
    seen: set[str] = set()
    normalized = []
    for index, projection in enumerate(projections):
        projection = normalized_projection(projection, f"projections[{index}]", checked)
        if projection.name in seen:
            raise ValidationError(
                f"projections[{index}].name", f"duplicate name {projection.name!r}", "unique projection names"
            )
        seen.add(projection.name)
        normalized.append(projection)
    return tuple(checked.values()), tuple(normalized)
