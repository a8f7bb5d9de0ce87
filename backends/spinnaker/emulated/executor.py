"""The emulated-core executor: networks of IF_curr_exp populations stepped in the chip's order.

Per tick ``t`` (``time`` = t on every core):

1. every core moves ring slot ``t mod D`` of its population into its synaptic currents
   (``neuron_transfer``) and updates its neurons (the binary's timestep update), emitting spikes;
2. every spike of tick ``t`` (spike sources' inputs included) is processed by each target core's
   ``synapses_process_synaptic_row`` on the spiking neuron's row, which adds the weights into slot
   ``(t + d) mod D`` of the core's ring buffer, saturating at 0xFFFF and counting saturations as
   the chip does. (On the chip this runs in the same tick, interrupt driven; it only needs the
   spikes of tick t and must finish before the transfer of tick t + 1.)

Timing effects (late packets, DMA queueing) are board-only and not modelled. A population larger
than ``neurons_per_core`` is split over several cores as sPyNNaker does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import numpy as np

from ....errors import ValidationError
from ....executor import Executor, input_dict
from ....recording import PopulationRecording, Recording
from .core import EmulatedCore, load_application, synaptic_word
from .description import SYNAPSE_TYPES, EmulatedNetwork, n_bits

EXECUTOR_NAME = "emulated-core"
S1615_SCALE = 2.0**-15
STATES = ("v", "i_exc", "i_inh")
"""Recorded per step, as s16.15 bits (scale 2^-15: mV for ``v``, nA for the currents).

``v``: membrane potential at the end of the step (after threshold and reset).
``i_exc`` / ``i_inh``: synaptic currents after the step's ring-buffer input and before
the step's decay (what sPyNNaker records as gsyn_exc / gsyn_inh for that step)."""


@dataclass
class Provenance:
    """Counters the binary kept, per population (summed over its cores):
    ``ring_buffer_saturations``: synapse additions that hit 0xFFFF (``synapses_saturation_count``);
    ``skipped_synapses``: synapses dropped as late (always 0 here: no packet is late)."""

    ring_buffer_saturations: dict[str, int] = field(default_factory=dict)
    skipped_synapses: dict[str, int] = field(default_factory=dict)


def source_spikes(network: EmulatedNetwork, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Check ``inputs`` (``{source: [batch, steps, size]}`` 0/1) and return them as bool arrays."""
    expected = {s.name: s.size for s in network.sources}
    if set(inputs) != set(expected):
        raise ValidationError("inputs", f"sources {sorted(inputs)}", f"exactly {sorted(expected)}")
    shapes = set()
    result = {}
    for name, spikes in inputs.items():
        spikes = np.asarray(spikes)
        if spikes.ndim != 3 or spikes.shape[2] != expected[name]:
            raise ValidationError(f"inputs[{name}]", f"shape {list(spikes.shape)}", f"[batch, steps, {expected[name]}]")
        if spikes.dtype != bool and not np.all((spikes == 0) | (spikes == 1)):
            raise ValidationError(f"inputs[{name}]", "values other than 0 and 1", "spikes as 0/1 or bool")
        shapes.add(spikes.shape[:2])
        result[name] = spikes.astype(bool)
    if len(shapes) > 1:
        raise ValidationError("inputs", f"different [batch, steps] {sorted(shapes)}", "one shape for all sources")
    return result


class EmulatedCoreExecutor(Executor):
    """Runs :class:`EmulatedNetwork` descriptions on emulated cores; returns the shared Recording.

    ``application``: ``(image, layout)`` from :func:`~.core.load_application` (default: the installed
    wheel's ``IF_curr_exp.aplx``, checked against its release).
    """

    name = EXECUTOR_NAME
    INTEGER_SOURCES = ("virtual-board", "layout")

    def __init__(
        self,
        application=None,
        *,
        integers_from: str = "virtual-board",
        timeout_s: float = 600.0,
        nets_per_build: int = 25,
    ) -> None:
        """``integers_from``: where :meth:`run` takes shifts, weight words and delays of an IR network:
        ``"virtual-board"`` (what sPyNNaker builds for the exported model) or ``"layout"`` (our
        encoding alone); see :mod:`.adapter`. ``timeout_s``, ``nets_per_build``: for the builds."""
        if integers_from not in self.INTEGER_SOURCES:
            raise ValidationError("integers_from", f"{integers_from!r}", " or ".join(self.INTEGER_SOURCES))
        self.application = application or load_application()
        self.integers_from = integers_from
        self.timeout_s = float(timeout_s)
        self.nets_per_build = int(nets_per_build)
        self.provenance = Provenance()
        self.provenance_per_run: list[Provenance] = []

    def run_description(
        self, network: EmulatedNetwork, inputs: Mapping[str, np.ndarray], steps: int | None = None
    ) -> Recording:
        """Simulate ``network`` on ``inputs``; ``steps`` is needed only when there are no sources."""
        spikes_in = source_spikes(network, inputs)
        if spikes_in:
            batch, steps = next(iter(spikes_in.values())).shape[:2]
        elif steps is None:
            raise ValidationError("steps", "missing for a network without spike sources", "an integer >= 1")
        else:
            batch = 1
        sizes = {p.name: p.size for p in (*network.sources, *network.populations)}
        cores = {population.name: self._build_cores(network, population) for population in network.populations}
        record = {name: PopulationRecording(np.zeros((batch, steps, size), bool)) for name, size in sizes.items()}
        for name, spikes in spikes_in.items():
            record[name].spikes[:] = spikes
        for population in network.populations:
            record[population.name].states = {s: np.zeros((batch, steps, population.size), np.int64) for s in STATES}
            record[population.name].state_scales = {s: S1615_SCALE for s in STATES}
        outgoing = [(index, m.pre, m.post) for index, m in enumerate(network.matrices)]
        saturations = {p.name: 0 for p in network.populations}
        skipped = {p.name: 0 for p in network.populations}
        for item in range(batch):
            for population_cores in cores.values():
                for _, core in population_cores:
                    core.reset()
            for t in range(steps):
                fired = {name: spikes_in[name][item, t] for name in spikes_in}
                for population in network.populations:
                    name = population.name
                    states = record[name].states
                    for neurons, core in cores[name]:
                        result = core.step(t)
                        record[name].spikes[item, t, neurons] = result.spikes
                        states["v"][item, t, neurons] = result.v
                        states["i_exc"][item, t, neurons] = result.i_exc
                        states["i_inh"][item, t, neurons] = result.i_inh
                    fired[name] = record[name].spikes[item, t]
                sent = [(index, np.flatnonzero(fired[pre]), post) for index, pre, post in outgoing]
                for name, population_cores in cores.items():
                    for _, core in population_cores:
                        rows = core.row_addresses
                        keys = [
                            (index, neuron)
                            for index, neurons, post in sent
                            if post == name
                            for neuron in neurons.tolist()
                            if (index, neuron) in rows
                        ]
                        core.deliver(t, keys)
            for name, population_cores in cores.items():
                saturations[name] += sum(core.counter("saturation_count") for _, core in population_cores)
                skipped[name] += sum(core.counter("skipped_synapses") for _, core in population_cores)
        for population_cores in cores.values():
            for _, core in population_cores:
                core.close()
        self.provenance = Provenance(saturations, skipped)
        return Recording(EXECUTOR_NAME, float(network.dt_ms), int(steps), record)

    def _build_cores(self, network: EmulatedNetwork, population) -> list[tuple[slice, EmulatedCore]]:
        """The population's cores with their synaptic rows, keyed ``(matrix index, pre neuron)``."""
        incoming = [(index, m) for index, m in enumerate(network.matrices) if m.post == population.name]
        longest = max(
            (int(np.asarray(m.delays_steps)[m.existing()].max()) for _, m in incoming if m.existing().any()), default=1
        )
        slots = min(1 << n_bits(longest), population.max_delay_slots())
        neuron_bits = n_bits(min(population.size, population.neurons_per_core))
        cores = []
        for neurons in population.core_slices():
            rows = {}
            for index, matrix in incoming:
                existing = matrix.existing()[:, neurons]
                weights = np.asarray(matrix.weights)[:, neurons]
                delays = np.asarray(matrix.delays_steps)[:, neurons]
                kind = SYNAPSE_TYPES.index(matrix.synapse_type)
                for pre in np.flatnonzero(existing.any(axis=1)):
                    targets = np.flatnonzero(existing[pre])
                    rows[(index, int(pre))] = synaptic_word(
                        weights[pre, targets], delays[pre, targets], kind, targets, neuron_bits, slots
                    )
            core = EmulatedCore(
                population.parameters.select(neurons),
                population.ring_buffer_shifts,
                delay_slots=slots,
                neuron_bits=neuron_bits,
                rows=rows,
                application=self.application,
            )
            cores.append((neurons, core))
        return cores

    def run(self, network, inputs) -> Recording:
        """Run a network quantized by ``quantize_network`` (IR inputs); states in IR units."""
        return self.run_many([(network, inputs)])[0]

    def run_many(self, jobs) -> list[Recording]:
        """Several ``(network, inputs)`` at once (their sPyNNaker builds share a few processes).
        ``provenance_per_run`` holds each network's counts, in order."""
        from .adapter import run_networks

        checked = [(network, input_dict(network, inputs)) for network, inputs in jobs]
        results = run_networks(
            self,
            checked,
            integers_from=self.integers_from,
            timeout_s=self.timeout_s,
            nets_per_build=self.nets_per_build,
        )
        self.provenance_per_run = [provenance for _, provenance in results]
        return [recording for recording, _ in results]

    def close(self) -> None:
        """Nothing is held between runs (each run builds its cores)."""
