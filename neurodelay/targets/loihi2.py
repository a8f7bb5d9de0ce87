"""The Loihi 2 target (through Lava 0.10.0): where its quantizer, refsim mode, exporter, executor and
parity plug live, and the few numbers the target-neutral tools need (docs/loihi2.md)."""

from __future__ import annotations

import math

from ..ir import Network, Projection
from . import Target

NEURONS_PER_CORE = 8192
"""Loihi 2 neurons per neuro-core as Intel's product brief states it (128 cores, up to 1 M neurons
per chip; docs/loihi2.md §L5). Synapse memory usually fills first: core counts are lower bounds."""


def weight_grid(projection: Projection) -> int:
    """2 on mixed-sign connections (Lava holds even integers only there), else 1."""
    from ..quant import loihi2

    return 2 if loihi2.sign_mode_of(projection.integer_weights[projection.existing()]) == "mixed" else 1


def integer_range(projection: Projection) -> tuple[int, int]:
    """The sign mode's integer range, the top rounded down onto the weight grid."""
    from ..quant import loihi2

    low, high = loihi2.FORMAT.weight_limits(loihi2.sign_mode_of(projection.integer_weights[projection.existing()]))
    return low, high - high % weight_grid(projection)


def delay_bound(network: Network, population: str) -> int:
    from ..quant import loihi2

    return int(loihi2.FORMAT.delay_range[1])


def cores(network: Network) -> dict[str, int]:
    return {p.name: math.ceil(p.size / NEURONS_PER_CORE) for p in network.neurons()}


TARGET = Target(
    name="loihi2",
    description="Intel Loihi 2 through Lava (lava-nc)",
    quantizer="neurodelay.quant.loihi2:quantize_network",
    formats="neurodelay.quant.loihi2:FORMAT",
    native_weight_bits=8,
    weight_grid=weight_grid,
    integer_range=integer_range,
    delay_bound=delay_bound,
    cores=cores,
    scale_option=("vth", tuple(int(round(2**12 * 2 ** (i / 32))) for i in range(32))),
    refsim="neurodelay.refsim.loihi2:simulate_network",
    exporter="neurodelay.exporters.loihi2:export",
    executors=(("lava-fixed_pt", "neurodelay.backends.loihi2:executor"),),
    parity_states=("u", "v"),
    parity_prepare="neurodelay.parity.loihi2:prepare",
    parity_campaign="neurodelay.parity.loihi2:CAMPAIGN",
    parity_max_delay_steps=62,
)
