"""SpiNNaker parity: what sPyNNaker built against the quantizer, and (on a board) runs against refsim.

Without a board (virtual board) every synapse is compared: the integer weight word, the synapse
type and the delay (in steps) that sPyNNaker built, read back through ``Projection.get`` and the
population's ring-buffer shifts, against the quantized IR network (its ``integer_weights``, the
sign giving the receptor, its delays + 1 per the latency convention, its shift as
``weight_format.exponent + 15``) and against the ring-buffer delay slots the reference simulator's
SpiNNaker mode uses. With a board, spikes and v traces of a run are compared step by step with
the reference simulator's ``spinnaker`` mode.

The report has the shape shared with the other targets: ``target``, ``executor``
(``virtual-board`` / ``board``), ``nets``, ``mismatches``, ``first_divergence`` (None or a dict), plus
``checked`` counts and ``build_seconds``.
"""
from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from ..ir import Network
from ..ir.random_nets import random_network
from ..quant.spinnaker import build_layout, quantize_for_spinnaker
from ..targets import load_backend

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
                    (int(i), int(j)): (int(abs(words[i, j])), int(delays[i, j])) for i, j in zip(pre, post)}
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

    layout = build_layout(network)
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
        got = {(i, j): (w, d) for i, j, w, d in zip(built["pre_index"], built["post_index"],
                                                    built["weight_words"], built["delay_steps"])}
        if len(got) != len(built["pre_index"]):
            differ(f"projection {label}", "one synapse per (pre, post)",
                   f"{len(built['pre_index'])} rows for {len(got)} pairs")
        for pair in sorted(set(synapses) | set(got)):
            checked["synapses"] += 1
            if synapses.get(pair) != got.get(pair):
                differ(f"synapse {label} {pair}", synapses.get(pair), got.get(pair))
    return mismatches, checked


def campaign_network(seed: int, index: int) -> tuple[Network, dict[str, Any]]:
    """The ``index``-th float network of a campaign and the quantizer options it gets.

    Varies recurrence, sparsity, delay ranges (every fifth net has 140 hidden neurons pinned at 256
    per core, so its cores hold 32 delay slots and needs a delay extension: with 140 inputs and
    sPyNNaker delays up to 81 steps (two stages), or with 20 inputs and up to 61 steps (one stage),
    the set-ups :func:`neurodelay.quant.spinnaker.check_delay_extensions` accepts), per-neuron
    parameters, the shift policy and the voltage scale.
    """
    rng = np.random.default_rng([seed, index])
    big = index % 5 == 4
    many_stages = index % 10 == 4
    network = random_network(int(rng.integers(0, 2**31)), recurrent=bool(rng.integers(0, 2)),
                             sparse=bool(rng.integers(0, 2)),
                             max_delay_steps=(80 if many_stages else 60) if big else int(rng.integers(1, 40)),
                             n_inputs=(140 if many_stages else 20) if big else int(rng.integers(1, 8)),
                             n_hidden=140 if big else int(rng.integers(1, 12)),
                             n_outputs=int(rng.integers(1, 5)),
                             per_neuron_parameters=bool(rng.integers(0, 2)),
                             weight_scale=float(rng.choice([0.05, 0.3, 1.0, 4.0])))
    options = {"shift_policy": str(rng.choice(["worst_case", "largest_weight"])),
               "voltage_scale_mv": float(rng.choice([1.0, 16.0, 100.0]))}
    if big:
        options["neurons_per_core"] = 256
    return network, options


def run_virtual_campaign(count: int, seed: int = 0, *, nets_per_build: int = 25,
                         timeout_s: float = 900.0,
                         progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Quantize ``count`` random networks, build them with sPyNNaker on a virtual board (several per
    build) and compare every synapse, synapse type, delay, shift and delay-slot count."""
    backend = load_backend("spinnaker")
    networks = []
    for index in range(count):
        network, options = campaign_network(seed, index)
        quantized, _ = quantize_for_spinnaker(network, **options)
        networks.append(quantized)
    mismatches: list[dict[str, Any]] = []
    checked = {"synapses": 0, "projections": 0, "shifts": 0, "delay_slots": 0, "delay_extension_nets": 0}
    started = time.perf_counter()
    with backend.executor(board=False, timeout_s=timeout_s) as spinnaker:
        for first in range(0, count, nets_per_build):
            group = networks[first:first + nets_per_build]
            for network, read_back in zip(group, spinnaker.build_many(group)):
                found, counts = compare_build(network, read_back)
                mismatches.extend(found)
                for key, value in counts.items():
                    checked[key] += value
                checked["delay_extension_nets"] += int(any(read_back["delay_extension"].values()))
            if progress:
                progress(f"built {min(first + nets_per_build, count)}/{count} networks, "
                         f"{len(mismatches)} mismatches")
    return {"target": "spinnaker", "executor": "virtual-board", "nets": count, "seed": seed,
            "mismatches": len(mismatches), "first_divergence": mismatches[0] if mismatches else None,
            "mismatch_list": mismatches[:50], "checked": checked,
            "build_seconds": round(time.perf_counter() - started, 1)}


def compare_runs(network: Network, board: Any, reference: Any) -> list[dict[str, Any]]:
    """Step-by-step differences in spikes and v between a board recording and refsim's (same layout)."""
    mismatches = []
    for population in network.neurons():
        for key in ("spikes", "v"):
            a = board.populations[population.name].spikes if key == "spikes" else \
                board.populations[population.name].states["v"]
            b = reference.populations[population.name].spikes if key == "spikes" else \
                reference.populations[population.name].states["v"]
            different = np.argwhere(a != b)
            if different.size:
                item, step, neuron = (int(x) for x in different[np.argmin(different[:, 1])])
                mismatches.append({"network": network.name, "item": f"{key} {population.name}",
                                   "batch": item, "step": step, "neuron": neuron,
                                   "expected": b[item, step, neuron].item(), "built": a[item, step, neuron].item(),
                                   "count": int(different.shape[0])})
    return mismatches


def run_board_campaign(count: int, seed: int = 0, *, steps: int = 100, batch: int = 2,
                       timeout_s: float = 900.0) -> dict[str, Any]:
    """On a configured board: the virtual-board checks plus spikes and v against refsim's spinnaker mode."""
    from ..refsim import simulate
    backend = load_backend("spinnaker")
    mismatches: list[dict[str, Any]] = []
    with backend.executor(board=True, timeout_s=timeout_s) as spinnaker:
        for index in range(count):
            network, options = campaign_network(seed, index)
            quantized, _ = quantize_for_spinnaker(network, **options)
            rng = np.random.default_rng([seed, index, 1])
            inputs = {s.name: rng.random((batch, steps, s.size)) < 0.1 for s in quantized.sources()}
            recorded = spinnaker.run(quantized, inputs)
            mismatches.extend(compare_runs(quantized, recorded, simulate(quantized, inputs, mode="spinnaker")))
    return {"target": "spinnaker", "executor": "board", "nets": count, "seed": seed,
            "mismatches": len(mismatches), "first_divergence": mismatches[0] if mismatches else None,
            "mismatch_list": mismatches[:50]}
