"""The SpiNNaker 1 target (through sPyNNaker 1!7.4.1): where its quantizer, refsim mode, exporter,
executors and parity plug live, and the few numbers the target-neutral tools need
(docs/spinnaker.md)."""

from __future__ import annotations

import math

from ..ir import Network, Projection
from . import Target


def delay_bound(network: Network, population: str) -> int:
    """Largest IR delay with delay extensions at the default neurons per core (sPyNNaker delay
    ``d + 1`` <= 9 D, D the ring-buffer slots the core can hold; docs/spinnaker.md §S4)."""
    from ..quant import spinnaker

    size = network.population(population).size
    slots = spinnaker.delay_slots_available(size, spinnaker.DEFAULT_NEURONS_PER_CORE)
    return spinnaker.max_delay_steps(slots) - 1


def integer_range(projection: Projection) -> tuple[int, int]:
    from ..quant import spinnaker

    return -spinnaker.WEIGHT_WORD_MAX, spinnaker.WEIGHT_WORD_MAX


def cores(network: Network) -> dict[str, int]:
    """Neuron cores per population plus one delay-extension core per core of a pre population whose
    targets need one (``population + "/delay_extension"`` keys)."""
    from ..quant import spinnaker

    layout = spinnaker.integer_model(network)
    counts = {name: math.ceil(p.size / p.neurons_per_core) for name, p in layout.populations.items()}
    extended = {
        s.pre_population
        for s in layout.synapses
        if int(s.delay_steps.max()) > layout.populations[s.post_population].slots
    }
    for name in sorted(extended):
        size = network.population(name).size
        per_core = (
            layout.populations[name].neurons_per_core
            if name in layout.populations
            else spinnaker.DEFAULT_NEURONS_PER_CORE
        )
        counts[f"{name}/delay_extension"] = math.ceil(size / per_core)
    return counts


TARGET = Target(
    name="spinnaker",
    description="SpiNNaker 1 through sPyNNaker / PyNN",
    quantizer="neurodelay.quant.spinnaker:quantize_network",
    formats="neurodelay.quant.spinnaker:FORMAT",
    native_weight_bits=17,
    integer_range=integer_range,
    delay_bound=delay_bound,
    cores=cores,
    scale_option=("voltage_scale_mv", tuple(8.0 * 2 ** (i / 32) for i in range(32))),
    refsim="neurodelay.refsim.spinnaker:simulate_network",
    exporter="neurodelay.exporters.spinnaker:export",
    executors=(
        ("spynnaker", "neurodelay.backends.spinnaker:executor"),
        ("emulated-core", "neurodelay.backends.spinnaker.emulated:executor"),
    ),
    parity_states=("v", "i_exc", "i_inh", "i_syn"),
    parity_prepare="neurodelay.parity.spinnaker:prepare",
    parity_campaign="neurodelay.parity.spinnaker:CAMPAIGN",
    parity_max_delay_steps=200,
    build_check="neurodelay.parity.spinnaker:check_builds",
)
