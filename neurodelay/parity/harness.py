"""Run a target's reference-simulator mode and its executor on the same inputs and compare them.

The question answered: does the deployed model (the target's own simulator or chip) compute
exactly what neurodelay's bit-accurate model of the quantized network computes, spike for spike
and state for state?
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import refsim
from ..atomic import write_json
from ..executor import Executor, Inputs, input_dict
from ..ir import Network
from ..recording import Recording
from ..targets import get_target
from .compare import Divergence, compare
from ..ir.random_nets import random_case


@dataclass
class NetResult:
    """One network's parity: its divergences (empty when it matched) and what was compared."""

    name: str
    seed: int | None
    steps: int
    neurons: int
    synapses: int
    recurrent: bool
    divergences: list[Divergence]
    spikes: int

    @property
    def matched(self) -> bool:
        return not self.divergences

    def to_dict(self) -> dict[str, Any]:
        first = self.divergences[0].to_dict() if self.divergences else None
        return {
            "name": self.name,
            "seed": self.seed,
            "steps": self.steps,
            "neurons": self.neurons,
            "synapses": self.synapses,
            "recurrent": self.recurrent,
            "spikes": self.spikes,
            "matched": self.matched,
            "first_divergence": first,
            "divergences": [d.to_dict() for d in self.divergences],
        }


@dataclass
class ParityReport:
    """A parity run over one or more networks (``to_dict`` is the JSON written by ``--json``)."""

    target: str
    reference: str
    executor: str
    results: list[NetResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def mismatches(self) -> int:
        return sum(not r.matched for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "reference": self.reference,
            "executor": self.executor,
            "nets": len(self.results),
            "mismatches": self.mismatches,
            "compared": {
                "steps": sum(r.steps for r in self.results),
                "neurons": sum(r.neurons for r in self.results),
                "spikes": sum(r.spikes for r in self.results),
            },
            "seconds": round(self.seconds, 2),
            "mismatched": [r.to_dict() for r in self.results if not r.matched],
            "nets_detail": [{k: v for k, v in r.to_dict().items() if k != "divergences"} for r in self.results],
        }

    def write_json(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict())

    def lines(self) -> list[str]:
        lines = [
            f"parity {self.target}: {self.reference} vs {self.executor}: {len(self.results)} nets, "
            f"{self.mismatches} mismatching ({self.seconds:.1f} s)"
        ]
        for result in self.results:
            if result.matched:
                continue
            first = result.divergences[0]
            lines.append(
                f"  {result.name} (seed {result.seed}): first divergence at step {first.step}, "
                f"{first.population}.{first.quantity}[{first.neuron}] (batch {first.batch}): "
                f"reference {first.reference:.0f}, {self.executor} {first.candidate:.0f}; "
                f"{len(result.divergences)} quantities differ"
            )
        return lines


def result_of(
    network: Network, seed: int | None, reference: Recording, candidate: Recording, states: Sequence[str]
) -> NetResult:
    neurons = sum(p.size for p in network.neurons())
    spikes = int(sum(reference.populations[p.name].spikes.sum() for p in network.neurons()))
    return NetResult(
        network.name,
        seed,
        reference.steps,
        neurons,
        sum(p.synapse_count for p in network.projections),
        network.is_recurrent,
        compare(reference, candidate, ("spikes",) + tuple(states)),
        spikes,
    )


def executor_for(target: str, name: str | None = None, **options: Any) -> Executor:
    """The target's executor ``name`` (default: its first) built with ``options``."""
    return get_target(target, "parity").executor(name, **options)


def check_networks(
    target: str, cases: Sequence[tuple[Network, Inputs, int | None]], executor: Executor
) -> tuple[ParityReport, list[tuple[Recording, Recording]]]:
    """Parity of each (quantized network, inputs, seed) case; the recordings come back for plotting."""
    started = time.monotonic()
    states = get_target(target, "parity").parity_states
    checked = [(network, input_dict(network, inputs), seed) for network, inputs, seed in cases]
    references = [refsim.simulate(network, inputs, mode=target) for network, inputs, _ in checked]
    run_many = getattr(executor, "run_many", None)
    jobs = [(network, inputs) for network, inputs, _ in checked]
    candidates = run_many(jobs) if run_many else [executor.run(*job) for job in jobs]
    report = ParityReport(target, references[0].executor if references else f"refsim-{target}", executor.name)
    for (network, _, seed), reference, candidate in zip(checked, references, candidates):
        report.results.append(result_of(network, seed, reference, candidate, states))
    report.seconds = time.monotonic() - started
    return report, list(zip(references, candidates))


def random_cases(target: str, count: int, seed: int) -> list[tuple[Network, dict[str, np.ndarray], int]]:
    """``count`` random networks quantized for ``target`` (seeds ``seed .. seed + count - 1``)."""
    spec = get_target(target, "parity")
    cases = []
    for net_seed in range(seed, seed + count):
        network, inputs = random_case(net_seed, max_delay_steps=spec.parity_max_delay_steps)
        cases.append((spec.prepare_for_parity(network, np.random.default_rng([net_seed, 1])), inputs, net_seed))
    return cases
