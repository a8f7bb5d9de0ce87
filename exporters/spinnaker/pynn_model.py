"""Build an exported neurodelay network in PyNN for sPyNNaker, run it, and read back what was built.

This module depends only on numpy and the PyNN module it is given (``pyNN.spiNNaker``), never on
neurodelay: the exporter copies it verbatim into the standalone script it writes, so the script a
SpiNNaker user runs and the in-process builder of neurodelay's backend are the same code.

The model is a plain dictionary (``model.json`` + ``model.npz`` in an export folder):

    dt_ms: timestep (ms); steps: default run length (timesteps)
    sources: [{name, size}]
    populations: [{name, size, neurons_per_core, ring_buffer_shift, parameters: {PyNN name: [size] float}}]
    projections: [{label, pre, post, receptor ("excitatory"|"inhibitory"),
                   pre_index [k], post_index [k], weight_nA [k], delay_ms [k]}]

Units are PyNN's: ms, nF, mV, nA. Weights are exact multiples of the weight unit
``2^(shift - 15)`` nA and delays exact multiples of dt (sPyNNaker delay = IR delay + 1 step).
"""

from __future__ import annotations

import numpy as np

MODEL_CELL_PARAMETERS = (
    "tau_m",
    "cm",
    "v_rest",
    "v_reset",
    "v_thresh",
    "tau_syn_E",
    "tau_syn_I",
    "tau_refrac",
    "i_offset",
    "v",
)


def spike_times_ms(spikes: np.ndarray, dt_ms: float) -> list[list[float]]:
    """``[steps, n]`` 0/1 spikes -> per-neuron lists of spike times on the dt grid (ms)."""
    spikes = np.asarray(spikes, bool)
    return [[float(step) * dt_ms for step in np.nonzero(spikes[:, neuron])[0]] for neuron in range(spikes.shape[1])]


def pinned_summed_weight(shift: int) -> float:
    """A ``max_expected_summed_weight`` (nA) for which sPyNNaker picks ring-buffer shift ``shift``:
    0.75 * 2^shift lies strictly between 2^(shift-1) and 2^shift."""
    return 0.75 * 2.0**shift


def build(sim, model: dict, source_spikes: dict | None = None, prefix: str = "") -> dict:
    """Create the model's populations and projections in the set-up simulator ``sim``.

    source_spikes: ``{source name: [steps, n] 0/1}``; sources without an entry never fire.
    prefix: added to every label, so that several models can share one simulation.
    Returns ``{"populations": {name: Population}, "projections": {label: Projection}}``.
    """
    dt_ms = float(model["dt_ms"])
    source_spikes = source_spikes or {}
    populations = {}
    for source in model["sources"]:
        times = (
            spike_times_ms(source_spikes[source["name"]], dt_ms)
            if source["name"] in source_spikes
            else [[] for _ in range(source["size"])]
        )
        if not any(times):
            times = []  # sPyNNaker 7.4.1 rejects a list of only empty lists
        populations[source["name"]] = sim.Population(
            source["size"], sim.SpikeSourceArray(spike_times=times), label=prefix + source["name"]
        )
    for population in model["populations"]:
        parameters = {key: np.asarray(population["parameters"][key], np.float64) for key in MODEL_CELL_PARAMETERS}
        initial_v = parameters.pop("v")
        pinned = pinned_summed_weight(int(population["ring_buffer_shift"]))
        populations[population["name"]] = sim.Population(
            population["size"],
            sim.IF_curr_exp(**parameters),
            label=prefix + population["name"],
            initial_values={"v": initial_v},
            additional_parameters={
                "neurons_per_core": int(population["neurons_per_core"]),
                "max_expected_summed_weight": [pinned, pinned],
                "allow_delay_extensions": True,
            },
        )
    projections = {}
    for projection in model["projections"]:
        connections = [
            (int(i), int(j), float(w), float(d))
            for i, j, w, d in zip(
                projection["pre_index"], projection["post_index"], projection["weight_nA"], projection["delay_ms"]
            )
        ]
        projections[projection["label"]] = sim.Projection(
            populations[projection["pre"]],
            populations[projection["post"]],
            sim.FromListConnector(connections),
            receptor_type=projection["receptor"],
            label=prefix + projection["label"],
        )
    return {"populations": populations, "projections": projections}


def read_back(model: dict, built: dict) -> dict:
    """What sPyNNaker built (call after ``sim.run``): integer weights, delays, receptor types, shifts.

    Returns plain lists: ``{"shifts": {population: [exc, inh]}, "delay_slots": {population: D},
    "delay_extension": {population: bool}, "projections": {label: {"synapse_type", "pre_index",
    "post_index", "weight_words", "delay_steps"}}}``. Weight words are ``weight * 2^(15 - shift)``
    of the receptor's shift, which must be whole numbers (checked); synapse_type is the index
    sPyNNaker gave the projection (0 excitatory, 1 inhibitory for ``IF_curr_exp``).
    """
    dt_ms = float(model["dt_ms"])
    result = {"shifts": {}, "delay_slots": {}, "delay_extension": {}, "projections": {}}
    for population in model["populations"]:
        vertex = built["populations"][population["name"]]._vertex
        result["shifts"][population["name"]] = [int(s) for s in vertex.get_ring_buffer_shifts()]
        result["delay_slots"][population["name"]] = int(vertex.max_delay_steps_incoming)
        result["delay_extension"][population["name"]] = bool(vertex.allow_delay_extension)
    for projection in model["projections"]:
        shifts = result["shifts"][projection["post"]]
        shift = shifts[0 if projection["receptor"] == "excitatory" else 1]
        rows = built["projections"][projection["label"]].get(["weight", "delay"], format="list")
        rows = [tuple(row) for row in rows]
        pre = [int(row[0]) for row in rows]
        post = [int(row[1]) for row in rows]
        exact_words = [float(row[2]) * 2.0 ** (15 - shift) for row in rows]
        words = [int(round(w)) for w in exact_words]
        if any(abs(w - e) > 0 for w, e in zip(words, exact_words)):
            raise ValueError(f"projection {projection['label']}: read-back weights are not whole weight units")
        delays = [int(round(float(row[3]) / dt_ms)) for row in rows]
        result["projections"][projection["label"]] = {
            "synapse_type": int(built["projections"][projection["label"]]._synapse_information.synapse_type),
            "pre_index": pre,
            "post_index": post,
            "weight_words": words,
            "delay_steps": delays,
        }
    return result


def record(built: dict, model: dict) -> None:
    """Record spikes, v and both synaptic currents of every neuron population."""
    for population in model["populations"]:
        built["populations"][population["name"]].record(["spikes", "v", "gsyn_exc", "gsyn_inh"])


def recordings(built: dict, model: dict, steps: int) -> dict:
    """Recorded data as arrays in the chip's own numbering (v and gsyn before the update of step t).

    Returns ``{population: {"spikes": bool [steps, n], "v" / "gsyn_exc" / "gsyn_inh": float [steps, n]}}``
    (mV, nA); the run must have lasted ``steps`` timesteps.
    """
    dt_ms = float(model["dt_ms"])
    out = {}
    for population in model["populations"]:
        block = built["populations"][population["name"]].get_data(["spikes", "v", "gsyn_exc", "gsyn_inh"])
        segment = block.segments[0]
        size = int(population["size"])
        spikes = np.zeros((steps, size), bool)
        for neuron, train in enumerate(segment.spiketrains):
            index = int(train.annotations.get("source_index", neuron))
            ticks = np.rint(np.asarray(train.magnitude, np.float64) / dt_ms).astype(np.int64)
            spikes[ticks[ticks < steps], index] = True
        traces = {}
        for signal in segment.analogsignals:
            values = np.asarray(signal.magnitude, np.float64)[:steps]
            traces[signal.name] = values
        out[population["name"]] = {"spikes": spikes, **traces}
    return out


def model_arrays(model: dict) -> tuple[dict, dict]:
    """Split a model into a JSON-able skeleton and ``{key: array}`` for ``model.npz``."""
    arrays = {}
    skeleton = {key: value for key, value in model.items() if key not in ("populations", "projections")}
    skeleton["populations"], skeleton["projections"] = [], []
    for population in model["populations"]:
        entry = {key: value for key, value in population.items() if key != "parameters"}
        for key, values in population["parameters"].items():
            arrays[f"populations/{population['name']}/{key}"] = np.asarray(values, np.float64)
        skeleton["populations"].append(entry)
    for projection in model["projections"]:
        entry = {key: value for key, value in projection.items() if not isinstance(value, np.ndarray)}
        for key in ("pre_index", "post_index", "weight_nA", "delay_ms"):
            arrays[f"projections/{projection['label']}/{key}"] = np.asarray(projection[key])
            entry.pop(key, None)
        skeleton["projections"].append(entry)
    return skeleton, arrays


def load_model(skeleton: dict, arrays) -> dict:
    """Inverse of :func:`model_arrays`: the skeleton (from ``model.json``) with its arrays put back."""
    model = dict(skeleton)
    model["populations"] = [
        dict(p, parameters={key: arrays[f"populations/{p['name']}/{key}"] for key in MODEL_CELL_PARAMETERS})
        for p in skeleton["populations"]
    ]
    model["projections"] = [
        dict(
            p,
            **{
                key: arrays[f"projections/{p['label']}/{key}"]
                for key in ("pre_index", "post_index", "weight_nA", "delay_ms")
            },
        )
        for p in skeleton["projections"]
    ]
    return model
