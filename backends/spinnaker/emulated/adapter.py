"""From a quantized IR network to the emulated core's description, and recordings back to IR units.

The integers come from the SpiNNaker encoding of :mod:`neurodelay.quant.spinnaker`
(:func:`~neurodelay.quant.spinnaker.build_layout`): the s16.15 parameter words the host writes,
the ring-buffer shift, the uint16 weight words and the sPyNNaker delays (IR delay + 1) of every
synapse. The emulated core then derives its constants and runs the dynamics with the vendor's code.
"""
from __future__ import annotations

import numpy as np

from ....errors import TargetLimitError
from ....ir import Network
from ....recording import PopulationRecording, Recording
from .description import (CorePopulation, EmulatedNetwork, IfCurrExpParameters, SourcePopulation,
                          SynapticMatrix)

S1615_ONE = 1 << 15


def description_from_layout(layout) -> EmulatedNetwork:
    """The :class:`EmulatedNetwork` of a ``SpiNNakerLayout`` (one synapse per pre/post pair and receptor)."""
    populations = []
    for name, population in layout.populations.items():
        bits = population.bits
        n = population.size
        zeros = np.zeros(n, np.int64)
        parameters = IfCurrExpParameters(
            size=n, v_init_mv=bits["v"], v_rest_mv=bits["v_rest"], cm_nf=bits["cm"], tau_m_ms=bits["tau_m"],
            i_offset_na=bits["i_offset"], v_reset_mv=bits["v_reset"], tau_refrac_ms=bits["tau_refrac"],
            refract_timer_steps=zeros, v_thresh_mv=bits["v_thresh"], tau_syn_e_ms=bits["tau_syn_E"],
            isyn_exc_na=zeros, tau_syn_i_ms=bits["tau_syn_E"], isyn_inh_na=zeros,
            timestep_ms=int(layout.timestep_bits))
        populations.append(CorePopulation(name, parameters, (population.shift, population.shift),
                                          population.neurons_per_core))
    sizes = {**layout.sources, **{name: p.size for name, p in layout.populations.items()}}
    matrices = []
    for synapses in layout.synapses:
        shape = (sizes[synapses.pre_population], sizes[synapses.post_population])
        weights = np.zeros(shape, np.int64)
        delays = np.ones(shape, np.int64)
        mask = np.zeros(shape, bool)
        if np.unique(synapses.pre * shape[1] + synapses.post).size != synapses.pre.size:
            raise TargetLimitError(f"{synapses.projection} ({synapses.receptor}): several synapses join one "
                                   "neuron pair; the emulated core's matrices hold one per pair and receptor")
        weights[synapses.pre, synapses.post] = synapses.weight_words
        delays[synapses.pre, synapses.post] = synapses.delay_steps
        mask[synapses.pre, synapses.post] = True
        matrices.append(SynapticMatrix(f"{synapses.projection}/{synapses.receptor}", synapses.pre_population,
                                       synapses.post_population, synapses.receptor, weights, delays, mask))
    return EmulatedNetwork(layout.network_name, layout.dt_ms,
                           tuple(SourcePopulation(name, size) for name, size in layout.sources.items()),
                           tuple(populations), tuple(matrices))


def recording_in_ir_units(recording: Recording, layout) -> Recording:
    """States named as the refsim SpiNNaker mode names them (``v``, ``i_exc``, ``i_inh``, ``i_syn`` =
    exc - inh, s16.15 bits) with scales to IR units: v by 2^-15 / k, currents by 2^-15 / (k * init)."""
    populations = {}
    for name, population in recording.populations.items():
        if name not in layout.populations:
            populations[name] = population
            continue
        chip = layout.populations[name]
        k = float(layout.voltage_scale_mv)
        current_scale = 1.0 / (S1615_ONE * k * (float(np.mean(chip.init)) / 2.0 ** 32))
        states = dict(population.states)
        states["i_syn"] = states["i_exc"] - states["i_inh"]
        scales = {"v": 1.0 / (S1615_ONE * k), "i_syn": current_scale, "i_exc": current_scale,
                  "i_inh": current_scale}
        populations[name] = PopulationRecording(population.spikes, states, scales)
    return Recording(recording.executor, recording.dt_ms, recording.steps, populations)


def run_network(executor, network: Network, inputs: dict[str, np.ndarray]) -> Recording:
    """Run a network quantized by ``quantize_for_spinnaker`` on checked inputs; IR-unit Recording."""
    from ....quant.spinnaker import build_layout
    layout = build_layout(network)
    recording = executor.run_description(description_from_layout(layout), inputs)
    return recording_in_ir_units(recording, layout)
