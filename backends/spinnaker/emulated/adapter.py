"""From a quantized IR network to the emulated core's description, and recordings back to IR units.

Two sources for the integers, both starting from the SpiNNaker encoding of
:mod:`neurodelay.quant.spinnaker` (:func:`~neurodelay.quant.spinnaker.integer_model`):

* ``"virtual-board"`` (default of the executor): what **sPyNNaker built** for the exported model
  on a virtual board (``neurodelay.backends.spinnaker``'s ``build``): its ring-buffer shifts and,
  per projection and receptor, the synapses, weight words and delays it read back from the
  synaptic matrices it generated. The s16.15 parameter words are the layout's (the same
  round-half-even encoding sPyNNaker applies to the float PyNN parameters it is given).
* ``"layout"``: the layout's own shifts, weight words and sPyNNaker delays (IR delay + 1), without
  sPyNNaker (fast; for checking the dynamics alone).

The emulated core then derives its constants and runs the dynamics with the vendor's code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ....errors import TargetLimitError
from ....recording import PopulationRecording, Recording
from .description import CorePopulation, EmulatedNetwork, IfCurrExpParameters, SourcePopulation, SynapticMatrix

if TYPE_CHECKING:
    from ....quant.spinnaker import SpiNNakerModel

S1615_ONE = 1 << 15


def description_from_layout(layout: "SpiNNakerModel") -> EmulatedNetwork:
    """The :class:`EmulatedNetwork` of a ``SpiNNakerModel`` (one synapse per pre/post pair and receptor)."""
    populations = []
    for name, population in layout.populations.items():
        bits = population.bits
        n = population.size
        zeros = np.zeros(n, np.int64)
        parameters = IfCurrExpParameters(
            size=n,
            v_init_mv=bits["v"],
            v_rest_mv=bits["v_rest"],
            cm_nf=bits["cm"],
            tau_m_ms=bits["tau_m"],
            i_offset_na=bits["i_offset"],
            v_reset_mv=bits["v_reset"],
            tau_refrac_ms=bits["tau_refrac"],
            refract_timer_steps=zeros,
            v_thresh_mv=bits["v_thresh"],
            tau_syn_e_ms=bits["tau_syn_E"],
            isyn_exc_na=zeros,
            tau_syn_i_ms=bits["tau_syn_E"],
            isyn_inh_na=zeros,
            timestep_ms=int(layout.timestep_bits),
        )
        populations.append(
            CorePopulation(name, parameters, (population.shift, population.shift), population.neurons_per_core)
        )
    sizes = {**layout.sources, **{name: p.size for name, p in layout.populations.items()}}
    matrices = []
    for synapses in layout.synapses:
        shape = (sizes[synapses.pre_population], sizes[synapses.post_population])
        weights = np.zeros(shape, np.int64)
        delays = np.ones(shape, np.int64)
        mask = np.zeros(shape, bool)
        if np.unique(synapses.pre * shape[1] + synapses.post).size != synapses.pre.size:
            raise TargetLimitError(
                f"{synapses.projection} ({synapses.receptor}): several synapses join one "
                "neuron pair; the emulated core's matrices hold one per pair and receptor"
            )
        weights[synapses.pre, synapses.post] = synapses.weight_words
        delays[synapses.pre, synapses.post] = synapses.delay_steps
        mask[synapses.pre, synapses.post] = True
        matrices.append(
            SynapticMatrix(
                f"{synapses.projection}/{synapses.receptor}",
                synapses.pre_population,
                synapses.post_population,
                synapses.receptor,
                weights,
                delays,
                mask,
            )
        )
    return EmulatedNetwork(
        layout.network_name,
        layout.dt_ms,
        tuple(SourcePopulation(name, size) for name, size in layout.sources.items()),
        tuple(populations),
        tuple(matrices),
    )


def description_from_build(layout: "SpiNNakerModel", built: dict) -> EmulatedNetwork:
    """The :class:`EmulatedNetwork` of what sPyNNaker built (``build()``'s read-back) for ``layout``.

    ``built``: ``{"shifts": {population: [exc, inh]}, "projections": {label: {"synapse_type",
    "pre_index", "post_index", "weight_words", "delay_steps"}}}`` with labels ``projection:receptor``.
    """
    from_layout = description_from_layout(layout)
    populations = tuple(
        CorePopulation(p.name, p.parameters, tuple(int(s) for s in built["shifts"][p.name]), p.neurons_per_core)
        for p in from_layout.populations
    )
    sizes = {**layout.sources, **{name: p.size for name, p in layout.populations.items()}}
    endpoints = {f"{s.projection}:{s.receptor}": (s.pre_population, s.post_population) for s in layout.synapses}
    matrices = []
    for label, synapses in built["projections"].items():
        if label not in endpoints:
            raise TargetLimitError(f"sPyNNaker built a projection {label!r} that the layout does not have")
        pre, post = endpoints[label]
        shape = (sizes[pre], sizes[post])
        rows, columns = np.asarray(synapses["pre_index"], np.int64), np.asarray(synapses["post_index"], np.int64)
        if np.unique(rows * shape[1] + columns).size != rows.size:
            raise TargetLimitError(
                f"{label}: sPyNNaker built several synapses for one neuron pair; the emulated "
                "core's matrices hold one per pair and receptor"
            )
        weights = np.zeros(shape, np.int64)
        delays = np.ones(shape, np.int64)
        mask = np.zeros(shape, bool)
        weights[rows, columns] = synapses["weight_words"]
        delays[rows, columns] = synapses["delay_steps"]
        mask[rows, columns] = True
        receptor = ("excitatory", "inhibitory")[int(synapses["synapse_type"])]
        matrices.append(SynapticMatrix(label, pre, post, receptor, weights, delays, mask))
    return EmulatedNetwork(
        layout.network_name,
        layout.dt_ms,
        from_layout.sources,
        populations,
        tuple(matrices),
        metadata={"integers_from": "sPyNNaker virtual-board build"},
    )


def recording_in_ir_units(recording: Recording, layout: "SpiNNakerModel") -> Recording:
    """States named as the refsim SpiNNaker mode names them (``v``, ``i_exc``, ``i_inh``, ``i_syn`` =
    exc - inh, s16.15 bits) with scales to IR units: v by 2^-15 / k, currents by 2^-15 / (k * init)."""
    populations = {}
    for name, population in recording.populations.items():
        if name not in layout.populations:
            populations[name] = population
            continue
        chip = layout.populations[name]
        k = float(layout.voltage_scale_mv)
        current_scale = 1.0 / (S1615_ONE * k * (float(np.mean(chip.init)) / 2.0**32))
        states = dict(population.states)
        states["i_syn"] = states["i_exc"] - states["i_inh"]
        scales = {"v": 1.0 / (S1615_ONE * k), "i_syn": current_scale, "i_exc": current_scale, "i_inh": current_scale}
        populations[name] = PopulationRecording(population.spikes, states, scales)
    return Recording(recording.executor, recording.dt_ms, recording.steps, populations)


def run_networks(executor, jobs: list, *, integers_from: str, timeout_s: float, nets_per_build: int) -> list:
    """Run ``[(quantized network, checked inputs)]``; integers from ``"virtual-board"`` or ``"layout"``.
    Returns ``[(Recording in IR units, Provenance)]``."""
    from ....quant.spinnaker import integer_model

    layouts = [integer_model(network) for network, _ in jobs]
    if integers_from == "layout":
        descriptions = [description_from_layout(layout) for layout in layouts]
    else:
        from ... import spinnaker as spynnaker_backend

        built: list[dict] = []
        with spynnaker_backend.executor(board=False, timeout_s=timeout_s) as builder:
            for start in range(0, len(jobs), nets_per_build):
                built += builder.build_many([network for network, _ in jobs[start : start + nets_per_build]])
        descriptions = [description_from_build(layout, item) for layout, item in zip(layouts, built)]
    results = []
    for description, layout, (_, inputs) in zip(descriptions, layouts, jobs):
        recording = recording_in_ir_units(executor.run_description(description, inputs), layout)
        results.append((recording, executor.provenance))
    return results
