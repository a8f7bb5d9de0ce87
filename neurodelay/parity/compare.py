"""Step-by-step comparison of two recordings of the same network and inputs."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from ..recording import Recording


@dataclass(frozen=True)
class Divergence:
    """The first place where ``quantity`` (``spikes`` or a state name) of ``population`` differs.

    step: IR step; batch / neuron: indices; reference / candidate: the two values there;
    count: how many (batch, step, neuron) entries of this quantity differ in total.
    """

    population: str
    quantity: str
    step: int
    batch: int
    neuron: int
    reference: float
    candidate: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def first_divergence(population: str, quantity: str, reference: np.ndarray, candidate: np.ndarray) -> Divergence | None:
    """First differing entry (earliest step, then batch, then neuron) of two ``[batch, steps, n]`` arrays.

    Arrays of different shapes diverge at step 0 with neuron -1 and their sizes as the values.
    """
    if reference.shape != candidate.shape:
        return Divergence(population, quantity, 0, 0, -1, float(reference.size), float(candidate.size), -1)
    differs = reference != candidate
    if not differs.any():
        return None
    steps_first = np.transpose(differs, (1, 0, 2))  # [steps, batch, n]: argmax finds the earliest step
    step, batch, neuron = np.unravel_index(int(np.argmax(steps_first)), steps_first.shape)
    return Divergence(
        population,
        quantity,
        int(step),
        int(batch),
        int(neuron),
        float(reference[batch, step, neuron]),
        float(candidate[batch, step, neuron]),
        int(differs.sum()),
    )


def compare(
    reference: Recording, candidate: Recording, quantities: tuple[str, ...] = ("spikes", "u", "v")
) -> list[Divergence]:
    """Every (population, quantity) that differs, each with its first divergence, earliest first.

    Compares spikes of every population and each state in ``quantities`` that both recordings hold;
    a population or state present in only one recording is a divergence too.
    """
    found: list[Divergence] = []
    for name, ref in reference.populations.items():
        cand = candidate.populations.get(name)
        if cand is None:
            found.append(Divergence(name, "population", 0, 0, -1, 1.0, 0.0, -1))
            continue
        pairs = [("spikes", ref.spikes, cand.spikes)]
        for state in quantities:
            if state == "spikes" or (state not in ref.states and state not in cand.states):
                continue
            if state not in ref.states or state not in cand.states:
                found.append(
                    Divergence(name, state, 0, 0, -1, float(state in ref.states), float(state in cand.states), -1)
                )
                continue
            pairs.append((state, ref.states[state], cand.states[state]))
        for quantity, left, right in pairs:
            divergence = first_divergence(name, quantity, np.asarray(left), np.asarray(right))
            if divergence is not None:
                found.append(divergence)
    return sorted(found, key=lambda d: (d.step, d.batch))
