"""Which corners one network actually exercised, measured from its reference run.

A corner counts only when the run shows it: a long delay counts when a spike crossed it and arrived
within the run, a dense projection when a spike went through it, and so on. The target's own
corners (wrap-around, saturation, delay extension, ...) come from its plug's ``coverage``.
"""

from __future__ import annotations

import numpy as np

from ...ir import Network
from ...recording import Recording

COMMON_CORNERS = (
    "feed_forward",
    "recurrent",
    "silent_input",
    "very_active_input",
    "silent_network",
    "very_active_network",
    "very_sparse",
    "very_dense",
    "zero_delay",
    "long_delay",
    "maximum_delay",
    "weight_top_of_range",
)
REFRACTORY_CORNERS = ("refractory", "refractory_refire")
"""Refractory corners, measured on targets whose plug holds a refractory period."""

VERY_ACTIVE = 0.5
"""Share of neuron-steps with a spike above which an input or a population counts as very active."""
VERY_SPARSE = 0.1
"""Share of existing synapses at or below which a projection counts as very sparse."""
LONG = 0.9
"""Share of the campaign's top delay into a population at or above which a delay counts as long."""


def spikes_of(recording: Recording, name: str) -> np.ndarray:
    """bool ``[steps, n]`` spikes of batch item 0."""
    return np.asarray(recording.populations[name].spikes[0], bool)


def crossed(pre_spikes: np.ndarray, delays: np.ndarray, exists: np.ndarray, steps: int) -> np.ndarray:
    """bool ``[n_pre, n_post]``: an existing synapse over which a spike arrived within the run
    (sent at t with t + 1 + d < steps)."""
    fired = pre_spikes.any(axis=0)
    first_sent = np.where(fired, np.argmax(pre_spikes, axis=0), steps)  # the earliest spike arrives first
    return exists & (first_sent[:, None] + 1 + delays < steps)


def common_corners(
    network: Network, inputs: dict, reference: Recording, top_delay: dict[str, int], integer_range
) -> set[str]:
    """The common corners ``network`` exercised in ``reference`` (its run on ``inputs``).

    top_delay: per post population, the campaign's top delay (steps); integer_range: the target's
    ``f(projection) -> (lowest, highest)`` integer weight.
    """
    found: set[str] = set()
    steps = reference.steps
    order = {p.name: index for index, p in enumerate(network.populations)}
    input_spikes = np.concatenate([np.asarray(trains[0], bool) for trains in inputs.values()], axis=1)
    if not input_spikes.any():
        found.add("silent_input")
    if input_spikes.mean() >= VERY_ACTIVE:
        found.add("very_active_input")
    neuron_spikes = [spikes_of(reference, p.name) for p in network.neurons() if p.kind == "lif"]
    if not any(train.any() for train in neuron_spikes):
        found.add("silent_network")
    if any(train.mean() >= VERY_ACTIVE for train in neuron_spikes):
        found.add("very_active_network")
    for projection in network.projections:
        exists = projection.existing()
        delays = projection.integer_delays()
        carried = crossed(spikes_of(reference, projection.pre), delays, exists, steps)
        if not carried.any():
            continue
        backward = projection.pre != "input" and order[projection.post] <= order[projection.pre]
        found.add("recurrent" if backward else "feed_forward_edge")
        share = exists.mean()
        if share <= VERY_SPARSE:
            found.add("very_sparse")
        if share == 1.0 and exists.size >= 16:
            found.add("very_dense")
        top = top_delay[projection.post]
        used = delays[carried]
        if (used == 0).any():
            found.add("zero_delay")
        if top >= 8 and (used >= LONG * top).any():
            found.add("long_delay")
        if top >= 1 and (used == top).any():
            found.add("maximum_delay")
        low, high = integer_range(projection)
        words = projection.integer_weights[carried]
        if ((words <= low / 2) | (words >= high / 2)).any():
            found.add("weight_top_of_range")
    if "feed_forward_edge" in found:
        found.discard("feed_forward_edge")
        if not network.is_recurrent:
            found.add("feed_forward")
    return found


def refractory_corners(network: Network, reference: Recording) -> set[str]:
    """``refractory``: a neuron with a refractory period fired early enough for the period to run;
    ``refractory_refire``: it fired again at the first step the period allowed (t + r + 1)."""
    found: set[str] = set()
    for population in network.neurons():
        period = int(getattr(population, "refractory_steps", 0))
        if period <= 0:
            continue
        spikes = spikes_of(reference, population.name)
        if spikes[: max(0, reference.steps - 1)].any():
            found.add("refractory")
        if spikes.shape[0] > period + 1 and (spikes[: -period - 1] & spikes[period + 1 :]).any():
            found.add("refractory_refire")
    return found
