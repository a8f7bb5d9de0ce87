"""Build Lava processes from an integer Loihi 2 model (the only module of the exporter importing lava).

Sources become ``RingBuffer`` sources (column n is sent at Lava step n + 1 = IR step n); each
projection a ``DelayDense`` with per-synapse delays, or a ``Dense`` when every delay is 0 (the same
latency, t + 1); each population a ``LIF`` with the integer du, dv, vth, bias; readouts a LIF with
the largest threshold. Recording: a sink ``RingBuffer`` on every LIF's spikes and one ``Monitor``
each for u and v (a Monitor with several probes fails to compile in lava-nc 0.10.0).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from lava.magma.core.process.process import AbstractProcess
from lava.proc.dense.process import Dense, DelayDense
from lava.proc.io.sink import RingBuffer as SpikeSink
from lava.proc.io.source import RingBuffer as SpikeSourceBuffer
from lava.proc.lif.process import LIF
from lava.proc.monitor.process import Monitor
from lava.utils.weightutils import SignMode

from ...quant.loihi2 import Loihi2Model, Loihi2Synapses

SIGN_MODES = {"mixed": SignMode.MIXED, "excitatory": SignMode.EXCITATORY, "inhibitory": SignMode.INHIBITORY}


@dataclass
class LavaGraph:
    """The processes of one run: ``lifs``/``sinks``/``monitors`` by population name (monitors: (u, v))."""

    lifs: dict[str, LIF]
    sinks: dict[str, SpikeSink]
    monitors: dict[str, tuple[Monitor, Monitor]]
    connections: dict[str, AbstractProcess]

    @property
    def entry(self) -> AbstractProcess:
        return next(iter(self.lifs.values()))


def connection(synapses: Loihi2Synapses) -> AbstractProcess:
    """Dense or DelayDense for ``synapses`` (weights and delays transposed to Lava's [n_post, n_pre])."""
    options = dict(
        weights=synapses.weights.T.astype(int),
        weight_exp=synapses.weight_exp,
        num_weight_bits=synapses.num_weight_bits,
        sign_mode=SIGN_MODES[synapses.sign_mode],
    )
    if np.all(synapses.delays_steps == 0):
        return Dense(**options)
    return DelayDense(delays=np.ascontiguousarray(synapses.delays_steps.T).astype(int), **options)


def build(model: Loihi2Model, source_data: dict[str, np.ndarray], steps: int) -> LavaGraph:
    """Processes for ``model`` fed by ``source_data`` ({name: 0/1 [steps, n]}), recording ``steps`` steps."""
    ports = {name: SpikeSourceBuffer(data=np.asarray(source_data[name], float).T) for name in model.sources}
    lifs: dict[str, LIF] = {}
    sinks: dict[str, SpikeSink] = {}
    monitors: dict[str, tuple[Monitor, Monitor]] = {}
    for neurons in model.neurons:
        lif = LIF(
            shape=(neurons.size,),
            du=neurons.du,
            dv=neurons.dv,
            vth=neurons.vth,
            bias_mant=neurons.bias_mant.astype(int),
            bias_exp=neurons.bias_exp.astype(int),
            name=neurons.name,
        )
        lifs[neurons.name] = ports[neurons.name] = lif
        sinks[neurons.name] = SpikeSink(shape=(neurons.size,), buffer=steps)
        lif.s_out.connect(sinks[neurons.name].a_in)
        probes = (Monitor(), Monitor())
        probes[0].probe(lif.u, steps)
        probes[1].probe(lif.v, steps)
        monitors[neurons.name] = probes
    connections = {}
    for synapses in model.synapses:
        process = connections[synapses.name] = connection(synapses)
        ports[synapses.pre].s_out.connect(process.s_in)
        process.a_out.connect(lifs[synapses.post].a_in)
    for index, (first, other) in enumerate(unconnected_pairs(model)):
        joint = Dense(weights=np.zeros((model.neuron(other).size, model.neuron(first).size), int))
        lifs[first].s_out.connect(joint.s_in)
        joint.a_out.connect(lifs[other].a_in)
        connections[f"_join_{index}"] = joint
    return LavaGraph(lifs, sinks, monitors, connections)


def unconnected_pairs(model: Loihi2Model) -> list[tuple[str, str]]:
    """(first population, population) pairs that join every group of LIFs not connected to the first.

    Lava runs only the processes connected to the one ``run`` is called on (and hangs reading the
    others), so the lowering joins such groups with an all-zero Dense, which adds 0 to the input.
    """
    group = {name: name for name in list(model.sources) + [n.name for n in model.neurons]}

    def root(name: str) -> str:
        while group[name] != name:
            name = group[name]
        return name

    for synapses in model.synapses:
        group[root(synapses.pre)] = root(synapses.post)
    names = [n.name for n in model.neurons]
    seen = {root(names[0])} if names else set()
    pairs = []
    for name in names[1:]:
        if root(name) not in seen:
            seen.add(root(name))
            pairs.append((names[0], name))
    return pairs
