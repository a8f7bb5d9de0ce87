"""SpiNNaker parity: what sPyNNaker built against the quantizer, and (on a board) runs against refsim.

Without a board (virtual board) every synapse is compared: the integer weight word, the synapse
type and the delay (in steps) that sPyNNaker built, read back through ``Projection.get`` and the
population's ring-buffer shifts, against the quantized IR network (its ``integer_weights``, the
sign giving the receptor, its delays + 1 per the latency convention, its shift as
``weight_format.exponent + 15``) and against the ring-buffer delay slots the reference simulator's
SpiNNaker mode uses. With a board, spikes and v traces of a run are compared step by step with
the reference simulator's ``spinnaker`` mode.

Plugged into the target-neutral harness (:mod:`neurodelay.parity.targets`): :func:`prepare`
quantizes the harness's random networks with varied options; on a board the harness compares
recordings; without one, :func:`check_builds` is the check, and its :class:`BuildParityReport`
has the shared report shape (``target``, ``executor`` = ``virtual-board``, ``nets``,
``mismatches``, first divergence per mismatching net).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..atomic import write_json
from ..errors import TargetLimitError
from ..ir import Network
from ..quant.spinnaker import integer_model, quantize_network
from .campaign.plug import CampaignPlug

SYNAPSE_TYPES = {"excitatory": 0, "inhibitory": 1}


def expected_synapses(network: Network) -> dict[str, dict[tuple[int, int], tuple[int, int]]]:
    """``{"<projection>:<receptor>": {(pre, post): (weight word, sPyNNaker delay steps)}}`` from the IR."""
    expected: dict[str, dict[tuple[int, int], tuple[int, int]]] = {}
    for projection in network.projections:
        words = projection.integer_weights
        delays = projection.integer_delays() + 1
        exists = projection.existing()
        for receptor, select in (("excitatory", words > 0), ("inhibitory", words < 0)):
            pre, post = np.nonzero(exists & select)
            if pre.size:
                expected[f"{projection.name}:{receptor}"] = {
                    (int(i), int(j)): (int(abs(words[i, j])), int(delays[i, j])) for i, j in zip(pre, post)
                }
    return expected


def compare_build(network: Network, read_back: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Mismatches between what sPyNNaker built (``read_back``) and the quantized ``network``.

    Returns ``(mismatches, checked)``; each mismatch names the network, the item (projection,
    synapse or population), what was expected and what was built.
    """
    mismatches: list[dict[str, Any]] = []
    checked = {"synapses": 0, "projections": 0, "shifts": 0, "delay_slots": 0}

    def differ(item: str, expected: Any, built: Any) -> None:
        mismatches.append({"network": network.name, "item": item, "expected": expected, "built": built})

    layout = integer_model(network)
    for population in network.neurons():
        incoming = network.incoming(population.name)
        if incoming:
            shift = incoming[0].weight_format.exponent + 15
            checked["shifts"] += 2
            if read_back["shifts"].get(population.name) != [shift, shift]:
                differ(f"shift {population.name}", [shift, shift], read_back["shifts"].get(population.name))
        checked["delay_slots"] += 1
        slots = layout.populations[population.name].slots
        if read_back["delay_slots"].get(population.name) != slots:
            differ(f"delay slots {population.name}", slots, read_back["delay_slots"].get(population.name))
    expected = expected_synapses(network)
    built_labels = set(read_back["projections"])
    for label in sorted(built_labels - set(expected)):
        differ(f"projection {label}", None, "built")
    for label, synapses in expected.items():
        checked["projections"] += 1
        built = read_back["projections"].get(label)
        if built is None:
            differ(f"projection {label}", f"{len(synapses)} synapses", None)
            continue
        receptor = label.rsplit(":", 1)[1]
        if built["synapse_type"] != SYNAPSE_TYPES[receptor]:
            differ(f"synapse type {label}", SYNAPSE_TYPES[receptor], built["synapse_type"])
        got = {
            (i, j): (w, d)
            for i, j, w, d in zip(built["pre_index"], built["post_index"], built["weight_words"], built["delay_steps"])
        }
        if len(got) != len(built["pre_index"]):
            differ(
                f"projection {label}",
                "one synapse per (pre, post)",
                f"{len(built['pre_index'])} rows for {len(got)} pairs",
            )
        for pair in sorted(set(synapses) | set(got)):
            checked["synapses"] += 1
            if synapses.get(pair) != got.get(pair):
                differ(f"synapse {label} {pair}", synapses.get(pair), got.get(pair))
    return mismatches, checked


SHIFT_POLICIES = ("worst_case", "largest_weight")
VOLTAGE_SCALES_MV = (1.0, 16.0, 100.0)
FALLBACK_SCALES_MV = (1.0, 1.0 / 16, 1.0 / 256)


def prepare(
    network: Network, rng: np.random.Generator | None, neurons_per_core: dict[str, int] | None = None
) -> Network:
    """``network`` quantized for SpiNNaker; ``rng`` draws the shift policy and the voltage scale
    (None: the quantizer's defaults). When the weights are too large for the drawn voltage scale
    (SpiNNaker's largest weight unit is 2 nA), the next smaller scale of 1, 1/16, 1/256 mV is used.
    ``neurons_per_core`` pins populations' neurons per core (None: the quantizer chooses)."""
    options: dict[str, Any] = {} if neurons_per_core is None else {"neurons_per_core": neurons_per_core}
    scales = [16.0]
    if rng is not None:
        options["shift_policy"] = str(rng.choice(SHIFT_POLICIES))
        scales = [float(rng.choice(VOLTAGE_SCALES_MV))]
    scales += [scale for scale in FALLBACK_SCALES_MV if scale < scales[0]]
    for scale in scales[:-1]:
        try:
            return quantize_network(network, voltage_scale_mv=scale, **options)[0]
        except TargetLimitError:
            continue
    return quantize_network(network, voltage_scale_mv=scales[-1], **options)[0]


WIDE = 64
"""Populations of at least this many neurons are the campaign's wide ones."""
PINNED_SHARE = 0.7


def campaign_prepare(network: Network, rng: np.random.Generator, executor: str) -> Network:
    """The campaign's quantization: :func:`prepare`, and in 70 % of the networks with a wide population
    its neurons per core pinned to 256 (the quantizer would otherwise choose fewer, to hold every delay
    in the core's own ring buffer), so that long delays into it go through the delay extension; not
    for the emulated core, which has no delay-extension core."""
    wide = [p.name for p in network.neurons() if p.size >= WIDE]
    pin = wide and rng.random() < PINNED_SHARE and executor != "emulated-core"
    pinned = {name: 256 for name in wide} if pin else None
    return prepare(network, rng, pinned)


@dataclass
class BuildParityReport:
    """Parity of what sPyNNaker built (virtual board) for a list of networks."""

    target: str = "spinnaker"
    reference: str = "quantizer + refsim-spinnaker layout"
    executor: str = "virtual-board"
    networks: list[str] = field(default_factory=list)
    mismatch_lists: list[list[dict[str, Any]]] = field(default_factory=list)
    checked: dict[str, int] = field(
        default_factory=lambda: {
            "synapses": 0,
            "projections": 0,
            "shifts": 0,
            "delay_slots": 0,
            "delay_extension_nets": 0,
        }
    )
    seconds: float = 0.0
    results: list = field(default_factory=list)  # no recordings to plot

    @property
    def mismatches(self) -> int:
        return sum(bool(found) for found in self.mismatch_lists)

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "reference": self.reference,
            "executor": self.executor,
            "nets": len(self.networks),
            "mismatches": self.mismatches,
            "compared": dict(self.checked),
            "seconds": round(self.seconds, 2),
            "mismatched": [
                {"name": name, "first_divergence": found[0], "divergences": found[:50], "count": len(found)}
                for name, found in zip(self.networks, self.mismatch_lists)
                if found
            ],
        }

    def write_json(self, path: str | Path) -> Path:
        return write_json(path, self.to_dict(), default=str)

    def lines(self) -> list[str]:
        lines = [
            f"parity {self.target}: sPyNNaker build ({self.executor}) vs quantizer/refsim layout: "
            f"{len(self.networks)} nets, {self.mismatches} mismatching ({self.seconds:.1f} s); compared "
            + ", ".join(f"{value} {key.replace('_', ' ')}" for key, value in self.checked.items())
        ]
        for name, found in zip(self.networks, self.mismatch_lists):
            if found:
                first = found[0]
                lines.append(
                    f"  {name}: first divergence {first['item']}: expected {first['expected']}, "
                    f"built {first['built']}; {len(found)} differences"
                )
        return lines


def check_builds(cases: Sequence[tuple[Network, Any, Any]], executor: Any) -> BuildParityReport:
    """Build every case's network with ``executor`` (an sPyNNaker executor, usually a virtual board; several
    networks per build) and compare each synapse, synapse type, delay, shift and delay-slot count."""
    started = time.monotonic()
    networks = [case[0] for case in cases]
    report = BuildParityReport(executor=getattr(executor, "name", "virtual-board"))
    for network, read_back in zip(networks, executor.build_many(networks)):
        found, counts = compare_build(network, read_back)
        report.networks.append(network.name)
        report.mismatch_lists.append(found)
        for key, value in counts.items():
            report.checked[key] += value
        report.checked["delay_extension_nets"] += int(any(read_back["delay_extension"].values()))
    report.seconds = time.monotonic() - started
    return report


def arriving_words(layout, spikes: dict[str, np.ndarray], steps: int) -> dict[tuple[str, str], np.ndarray]:
    """int64 ``[steps, n_post]`` per (post population, receptor): the sum of weight words landing in
    the ring-buffer slot read at each tick, rebuilt from the recorded spikes (``{population: bool
    [steps, n]}``); a spike at t through sPyNNaker delay d lands in the slot read at t + d."""
    sums: dict[tuple[str, str], np.ndarray] = {}
    sizes = {name: train.shape[1] for name, train in spikes.items()}
    for synapses in layout.synapses:
        key = (synapses.post_population, synapses.receptor)
        total = sums.setdefault(key, np.zeros((steps, sizes[synapses.post_population]), np.int64))
        sent_steps, sent_neurons = np.nonzero(spikes[synapses.pre_population])
        order = np.argsort(synapses.pre, kind="stable")
        pre, post = synapses.pre[order], synapses.post[order]
        words, delays = synapses.weight_words[order], synapses.delay_steps[order]
        first = np.searchsorted(pre, sent_neurons, "left")
        count = np.searchsorted(pre, sent_neurons, "right") - first
        # one (spike, synapse) pair per synapse of each spiking pre neuron
        spike_of_pair = np.repeat(np.arange(sent_steps.size), count)
        synapse_of_pair = np.repeat(first - np.cumsum(count) + count, count) + np.arange(int(count.sum()))
        arrival = sent_steps[spike_of_pair] + delays[synapse_of_pair]
        within = arrival < steps
        np.add.at(total, (arrival[within], post[synapse_of_pair][within]), words[synapse_of_pair][within])
    return sums


def coverage(network: Network, inputs: dict, reference: Any) -> set[str]:
    """SpiNNaker's corners in the reference run: ``ring_buffer_saturation`` (the words landing in one
    ring-buffer slot summed past 0xFFFF) and ``delay_extension`` (a spike crossed a synapse whose
    delay exceeds the post core's slots, so the delay-extension core re-sent it, and it arrived
    within the run)."""
    from ..quant.spinnaker import WEIGHT_WORD_MAX

    layout = integer_model(network)
    spikes = {name: np.asarray(p.spikes[0], bool) for name, p in reference.populations.items()}
    found: set[str] = set()
    if any((total > WEIGHT_WORD_MAX).any() for total in arriving_words(layout, spikes, reference.steps).values()):
        found.add("ring_buffer_saturation")
    for synapses in layout.synapses:
        extended = synapses.delay_steps > layout.populations[synapses.post_population].slots
        if not extended.any():
            continue
        train = spikes[synapses.pre_population]
        fired = train.any(axis=0)
        first = np.where(fired, np.argmax(train, axis=0), reference.steps)
        if (first[synapses.pre[extended]] + synapses.delay_steps[extended] < reference.steps).any():
            found.add("delay_extension")
    return found


CAMPAIGN = CampaignPlug(
    max_delay_steps=287,
    refractory=True,
    wide_sizes=(64, 255),
    corners=("ring_buffer_saturation", "delay_extension"),
    coverage=coverage,
    prepare=campaign_prepare,
    unsupported_corners={"emulated-core": ("delay_extension",)},
    nets_per_run={"spynnaker": 50, "emulated-core": 50},
)
"""Campaign settings: delays up to 287 steps (9 x 32 slots, the delay-extension maximum of a core of
128-255 neurons; smaller populations allow longer delays than a campaign can afford to run), a
refractory period of 0-8 steps, an occasional wide population of 64-255 neurons (few ring-buffer
slots, so long delays go through the delay extension), 50 networks per sPyNNaker build."""
