"""One index of the quantization targets: where each target's quantizer, format table and refsim mode
live, and the few numbers the target-neutral tools (reports, bit-width sweeps, delay-range options)
need. The formats themselves are defined once, in the targets' own modules
(:mod:`neurodelay.quant.loihi2`, :mod:`neurodelay.quant.spinnaker`); this module only points at them.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import asdict, dataclass
from typing import Any, Callable

import numpy as np

from ..errors import ValidationError
from ..ir import Network, Projection

LOIHI2_NEURONS_PER_CORE = 8192
"""Loihi 2 neurons per neuro-core as Intel's public product brief states it (128 cores, up to 1 M
neurons per chip). The usable number is lower when synapse memory fills first; core counts in
reports are therefore lower bounds for Loihi 2."""


@dataclass(frozen=True)
class QuantTarget:
    """What the target-neutral quantization tools need to know about one target.

    quantizer: ``"module:function"`` of ``f(network, **options) -> (quantized network, target report)``.
    format_module: the module holding the target's format table (``FORMAT``).
    refsim_mode: the bit-accurate reference-simulator mode of the target.
    native_weight_bits: bits of a weight on the chip, sign included (Loihi 2: 8-bit mixed-sign
        weights; SpiNNaker: a 16-bit magnitude whose sign is the receptor type, 17).
    weight_grid: ``f(quantized projection) -> integer step`` between representable integer weights
        at the projection's exponent (Loihi 2's mixed-sign connections hold even integers only).
    delay_bound: ``f(network, population) -> largest IR delay in steps`` a projection into that
        population may have without leaving the chip's delay hardware.
    cores: ``f(quantized network) -> {population: cores}`` of the neuron populations.
    integer_range: ``f(quantized projection) -> (lowest, highest)`` integer weight the chip delivers
        unchanged (Loihi 2: by sign mode, mixed-sign highest 254; SpiNNaker: +-65535).
    scale_option: the quantizer option that sets the weights' LSB in network units and the
        candidates (one octave) a calibration may choose among.
    """

    name: str
    quantizer: str
    format_module: str
    refsim_mode: str
    native_weight_bits: int
    weight_grid: Callable[[Projection], int]
    delay_bound: Callable[[Network, str], int]
    cores: Callable[[Network], dict[str, int]]
    integer_range: Callable[[Projection], tuple[int, int]]
    scale_option: tuple[str, tuple[float, ...]]

    def format_table(self) -> dict[str, Any]:
        """The target's format table (its module's ``FORMAT``) as a plain dict, for reports."""
        return as_json(asdict(importlib.import_module(self.format_module).FORMAT))

    def quantize(self, network: Network, **options: Any) -> tuple[Network, Any]:
        """Run the target's post-training quantizer."""
        module_name, function_name = self.quantizer.split(":")
        return getattr(importlib.import_module(module_name), function_name)(network, **options)


# ----- Loihi 2 --------------------------------------------------------------------------------
def _loihi2_grid(projection: Projection) -> int:
    from . import loihi2
    existing = projection.existing()
    return 2 if loihi2.sign_mode_of(projection.integer_weights[existing]) == "mixed" else 1


def _loihi2_integer_range(projection: Projection) -> tuple[int, int]:
    from . import loihi2
    mode = loihi2.sign_mode_of(projection.integer_weights[projection.existing()])
    low, high = loihi2.FORMAT.weight_limits(mode)
    return low, high - high % _loihi2_grid(projection)


def _loihi2_delay_bound(network: Network, population: str) -> int:
    from . import loihi2
    return int(loihi2.FORMAT.delay_range[1])


def _loihi2_cores(network: Network) -> dict[str, int]:
    return {p.name: math.ceil(p.size / LOIHI2_NEURONS_PER_CORE) for p in network.neurons()}


# ----- SpiNNaker ------------------------------------------------------------------------------
def _spinnaker_delay_bound(network: Network, population: str) -> int:
    """Largest IR delay with delay extensions at the default neurons per core (sPyNNaker delay
    ``d + 1`` <= 9 D, D the ring-buffer slots the core can hold)."""
    from . import spinnaker
    size = network.population(population).size
    slots = spinnaker.delay_slots_available(size, spinnaker.DEFAULT_NEURONS_PER_CORE)
    return spinnaker.max_delay_steps(slots) - 1


def _spinnaker_integer_range(projection: Projection) -> tuple[int, int]:
    from . import spinnaker
    return -spinnaker.WEIGHT_WORD_MAX, spinnaker.WEIGHT_WORD_MAX


def _spinnaker_cores(network: Network) -> dict[str, int]:
    """Neuron cores per population plus one delay-extension core per core of a pre population whose
    targets need one (``population + "/delay_extension"`` keys)."""
    from . import spinnaker
    layout = spinnaker.build_layout(network)
    cores = {name: math.ceil(p.size / p.neurons_per_core) for name, p in layout.populations.items()}
    extended = {s.pre_population for s in layout.synapses
                if int(s.delay_steps.max()) > layout.populations[s.post_population].slots}
    for name in sorted(extended):
        size = network.population(name).size
        per_core = layout.populations[name].neurons_per_core if name in layout.populations \
            else spinnaker.DEFAULT_NEURONS_PER_CORE
        cores[f"{name}/delay_extension"] = math.ceil(size / per_core)
    return cores


QUANT_TARGETS: dict[str, QuantTarget] = {
    "loihi2": QuantTarget("loihi2", "neurodelay.quant.loihi2:quantize_for_loihi2", "neurodelay.quant.loihi2",
                          "loihi2", 8, _loihi2_grid, _loihi2_delay_bound, _loihi2_cores,
                          _loihi2_integer_range,
                          ("vth", tuple(int(round(2 ** 12 * 2 ** (i / 32))) for i in range(32)))),
    "spinnaker": QuantTarget("spinnaker", "neurodelay.quant.spinnaker:quantize_for_spinnaker",
                             "neurodelay.quant.spinnaker", "spinnaker", 17, lambda projection: 1,
                             _spinnaker_delay_bound, _spinnaker_cores, _spinnaker_integer_range,
                             ("voltage_scale_mv", tuple(8.0 * 2 ** (i / 32) for i in range(32)))),
}


def quant_target(name: str) -> QuantTarget:
    """The entry of target ``name``; a ValidationError naming ``--target`` otherwise."""
    if name not in QUANT_TARGETS:
        raise ValidationError("--target", f"unknown target {name!r}", ", ".join(QUANT_TARGETS))
    return QUANT_TARGETS[name]


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
