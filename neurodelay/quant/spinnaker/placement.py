"""Core placement: ring-buffer shift rule, delay slots per core, neurons per core and the delay
extensions sPyNNaker 1!7.4.1 can build (docs/spinnaker.md §S3, §S4)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from ...errors import TargetLimitError
from .formats import (
    DEFAULT_NEURONS_PER_CORE,
    DELAY_EXTENSION_STAGES,
    MAX_RING_BUFFER_BITS,
    MIN_AUTO_NEURONS_PER_CORE,
    SPYNNAKER_VERSION,
    SYNAPSE_TYPE_BITS,
)

if TYPE_CHECKING:
    from .model import PopulationLayout, SynapseList


def spynnaker_shift_rule(max_summed_weight_nA: float) -> int:
    """sPyNNaker's ring-buffer shift for an expected maximum summed weight (``get_ring_buffer_shifts``);
    the exporter pins each population's shift through it (``pynn_model.pinned_summed_weight``)."""
    power = 0 if max_summed_weight_nA <= 0 else int(math.ceil(max(0.0, math.log2(max_summed_weight_nA))))
    return power + 1 if 2**power <= max_summed_weight_nA else power


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
    """D, the ring-buffer slots of the target core (``max_delay_steps_incoming`` in sPyNNaker).

    ``max_incoming_delay_steps`` is 0 for a population without incoming synapses (none, or all
    weights rounded to zero and so not built): sPyNNaker then gives its cores 2^0 = 1 slot."""
    wanted = 2 ** n_bits(max_incoming_delay_steps)
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


def auto_neurons_per_core(n_neurons: int, needed_delay_steps: int, minimum: int = MIN_AUTO_NEURONS_PER_CORE) -> int:
    """Neurons per core for a population: the largest power of two <= 256 (and >= ``minimum``)
    whose core holds ``needed_delay_steps`` delay slots without a delay extension; if none does,
    ``minimum`` (the most slots, extended by delay-extension stages)."""
    candidate = DEFAULT_NEURONS_PER_CORE
    while candidate >= minimum:
        if delay_slots_available(n_neurons, candidate) >= needed_delay_steps:
            return candidate
        candidate //= 2
    return minimum


def check_delay_extensions(
    populations: dict[str, PopulationLayout], sizes: dict[str, int], synapses: list[SynapseList]
) -> None:
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
                    "one; give the post populations the same neurons_per_core (option neurons_per_core)"
                )
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
            f"up to {limit - 1} steps; or choose neurons_per_core so that the delays fit on the core"
        )
