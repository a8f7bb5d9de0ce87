"""Parity of the refsim's SpiNNaker mode against the emulated core, spike for spike and V for V.

``python -m neurodelay.backends.spinnaker.emulated.parity --random N --seed S`` runs ``N`` random
quantized networks (feed-forward and recurrent, delays across the on-core range, refractoriness,
saturation cases) through both and prints a JSON report with ``executor: "emulated-core"``.
Until ``neurodelay parity`` has its plug point, this module is the way to run it; the comparison
itself (:func:`compare_recordings`) takes any two Recordings.
"""
from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass, field

import numpy as np

from ....ir import Network
from ....ir.random_nets import random_network
from ....recording import Recording
from .executor import EXECUTOR_NAME, EmulatedCoreExecutor

COMPARED_STATES = ("v", "i_exc", "i_inh")


@dataclass
class Mismatch:
    population: str
    quantity: str
    batch: int
    step: int
    neuron: int
    reference: int
    emulated: int


@dataclass
class ParityResult:
    network: str
    executor: str
    steps: int
    spikes: int
    mismatches: list[Mismatch] = field(default_factory=list)
    saturations: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return not self.mismatches


def compare_recordings(reference: Recording, emulated: Recording, network: str) -> ParityResult:
    """Every spike and every compared integer state, step by step; the first mismatches listed."""
    mismatches: list[Mismatch] = []
    spikes = 0
    for name, expected in reference.populations.items():
        actual = emulated.populations[name]
        pairs = [("spikes", expected.spikes, actual.spikes)]
        pairs += [(q, expected.states[q], actual.states[q]) for q in COMPARED_STATES if q in expected.states]
        spikes += int(actual.spikes.sum())
        for quantity, want, got in pairs:
            if want.shape != got.shape:
                mismatches.append(Mismatch(name, f"{quantity} shape", -1, -1, -1, 0, 0))
                continue
            for b, t, n in np.argwhere(want != got)[:5]:
                mismatches.append(Mismatch(name, quantity, int(b), int(t), int(n), int(want[b, t, n]), int(got[b, t, n])))
    return ParityResult(network, emulated.executor, emulated.steps, spikes, mismatches)


def random_case(seed: int) -> tuple[Network, dict[str, np.ndarray]]:
    """A quantized random network and input spikes; the seed picks the variant.

    Variants: feed-forward or recurrent, dense or sparse, short or long delays (up to 30 IR steps),
    weights small or large (large: strong drive, many spikes, refractoriness), shift policy
    ``worst_case`` or ``largest_weight`` (the latter lets ring-buffer slots saturate).
    """
    from ....quant.spinnaker import quantize_network
    rng = np.random.default_rng(seed)
    network = random_network(seed, recurrent=bool(seed % 2), sparse=bool((seed // 2) % 2),
                             integer_delays=True, max_delay_steps=int(rng.choice([1, 4, 12, 30])),
                             weight_scale=float(rng.choice([0.3, 1.0, 3.0])),
                             n_hidden=int(rng.integers(3, 12)), per_neuron_parameters=bool(rng.integers(2)))
    policy = "largest_weight" if seed % 3 == 0 else "worst_case"
    quantized, _ = quantize_network(network, shift_policy=policy)
    steps = int(rng.integers(40, 120))
    batch = 2
    rate = float(rng.choice([0.05, 0.2, 0.5]))
    spikes = rng.random((batch, steps, network.sources()[0].size)) < rate
    return quantized, {network.sources()[0].name: spikes}


def run_parity(count: int, seed: int, *, membrane_rounding: str = "floor",
               integers_from: str = "virtual-board") -> list[ParityResult]:
    """``count`` random cases from ``seed``: refsim SpiNNaker mode vs the emulated core, the latter fed
    with what sPyNNaker built (``integers_from="virtual-board"``) or with our layout (``"layout"``)."""
    from ....quant.spinnaker import integer_model
    from ....refsim.spinnaker import simulate_model
    executor = EmulatedCoreExecutor(integers_from=integers_from)
    cases = [random_case(seed + index) for index in range(count)]
    emulated_runs = executor.run_many(cases)
    results = []
    for (network, inputs), emulated, provenance in zip(cases, emulated_runs, executor.provenance_per_run):
        reference, counters = simulate_model(integer_model(network), inputs, membrane_rounding=membrane_rounding)
        result = compare_recordings(reference, emulated, network.name)
        result.saturations = dict(provenance.ring_buffer_saturations)
        # the emulated core counts as the chip does (per synapse addition that hits 0xFFFF), the refsim
        # per ring entry and projection delivery, so only "saturated at all" is comparable (states are exact)
        for name, count in counters.ring_buffer_saturations.items():
            if (count > 0) != (result.saturations.get(name, 0) > 0):
                result.mismatches.append(Mismatch(name, "ring-buffer saturation", -1, -1, -1, count,
                                                  result.saturations.get(name, 0)))
        results.append(result)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neurodelay.backends.spinnaker.emulated.parity",
                                     description="refsim SpiNNaker mode vs the emulated IF_curr_exp core")
    parser.add_argument("--random", type=int, default=10, help="number of random networks")
    parser.add_argument("--seed", type=int, default=0, help="seed of the first network")
    parser.add_argument("--membrane-rounding", default="floor", choices=("floor", "nearest"),
                        help="the refsim's membrane multiply rounding (nearest: a mutation check)")
    parser.add_argument("--integers-from", default="virtual-board", choices=EmulatedCoreExecutor.INTEGER_SOURCES,
                        help="what feeds the emulated core: sPyNNaker's virtual-board build or our layout")
    args = parser.parse_args(argv)
    results = run_parity(args.random, args.seed, membrane_rounding=args.membrane_rounding,
                         integers_from=args.integers_from)
    failed = [r for r in results if not r.passed]
    report = {"executor": EXECUTOR_NAME, "target": "spinnaker", "integers_from": args.integers_from,
              "networks": len(results),
              "mismatching_networks": len(failed), "spikes_compared": sum(r.spikes for r in results),
              "networks_with_saturated_slots": sum(1 for r in results if any(r.saturations.values())),
              "first_mismatches": [asdict(m) | {"network": r.network} for r in failed[:3] for m in r.mismatches[:3]]}
    print(json.dumps(report, indent=2))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
