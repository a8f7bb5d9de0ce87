"""Compiled engine of the refsim's SpiNNaker mode: the arithmetic of :mod:`neurodelay.refsim.spinnaker`
with the whole time loop in one numba function, one input after the other.

The numpy module stays the oracle (tests/test_refsim_compiled.py compares every recorded array and
the saturation counters). Populations are laid end to end: spike sources take node indices
``0 .. S-1``, neurons ``S .. S+N-1`` in layout order; the spike history of every node is kept, since
a delay-extension stage re-sends a spike ``k D`` steps after it was fired. Each synapse list is a
sparse row per (stage, pre neuron). Saturation follows the numpy model: a ring entry is clamped to
0xFFFF once the additions of one synapse list in one step are done, and counted once if it went above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..quant.spinnaker import EXCITATORY, INHIBITORY, WEIGHT_WORD_MAX, SpiNNakerModel, split_delay
from ..recording import PopulationRecording, Recording
from .jit import compiled
from .spinnaker import SpiNNakerRunCounters, executor_name, state_scales

PARAMETERS = ("v_init", "i_offset", "v_rest", "v_thresh", "v_reset", "r_membrane", "exp_tc", "t_refract")
PARAMETERS += ("decay", "init")


@dataclass(frozen=True)
class FlatLayout:
    """A :class:`SpiNNakerModel` as flat int64 arrays for the kernel.

    neuron: ``[10, N]``, the rows of :data:`PARAMETERS` per neuron. Per population ``[P]``: first
    neuron, size, slots D, ring-buffer shift, ring_start (its ring, ``[2, D, n]`` flattened, begins
    there in the shared ring). Per synapse list ``[L]``: pre_start (node index of its pre
    population's first neuron), n_pre, post (population index), receptor, n_stages, row_start (into
    ``row_pointer``, ``n_stages * n_pre + 1`` entries per list). Entries ``[E]``: post neuron, row
    delay (1..D), weight word.
    """

    neuron: np.ndarray
    population: np.ndarray  # [P, 5]: first neuron, size, slots, shift, ring_start
    synapse_list: np.ndarray  # [L, 6]: pre_start, n_pre, post, receptor, n_stages, row_start
    row_pointer: np.ndarray
    post: np.ndarray
    row_delay: np.ndarray
    word: np.ndarray
    ring_size: int


def flatten(layout: SpiNNakerModel) -> FlatLayout:
    """The kernel's arrays for ``layout`` (same constants, synapses and delays as the numpy engine)."""
    node_start, population_index = {}, {}
    offset = 0
    for name, size in layout.sources.items():
        node_start[name], offset = offset, offset + size
    n_sources = offset
    columns, populations = [], []
    ring_size = 0
    for index, (name, population) in enumerate(layout.populations.items()):
        node_start[name], population_index[name] = offset, index
        populations.append((offset - n_sources, population.size, population.slots, population.shift, ring_size))
        offset += population.size
        ring_size += 2 * population.slots * population.size
        values = {"v_init": population.bits["v"], "r_membrane": population.r_membrane}
        values |= {key: population.bits[key] for key in ("i_offset", "v_rest", "v_thresh", "v_reset")}
        values |= {"exp_tc": population.exp_tc, "t_refract": population.t_refract}
        values |= {"decay": population.decay, "init": population.init}
        columns.append(
            np.stack([np.broadcast_to(np.asarray(values[key], np.int64), population.size) for key in PARAMETERS])
        )
    sizes = {**layout.sources, **{name: population.size for name, population in layout.populations.items()}}
    lists, row_pointer, posts, row_delays, words = [], [], [], [], []
    row_count = entry_count = 0
    for synapses in layout.synapses:
        slots = layout.populations[synapses.post_population].slots
        stage, row_delay = split_delay(synapses.delay_steps, slots)
        n_pre = sizes[synapses.pre_population]
        n_stages = int(stage.max(initial=0)) + 1
        row = stage * n_pre + synapses.pre
        order = np.argsort(row, kind="stable")
        receptor = EXCITATORY if synapses.receptor == "excitatory" else INHIBITORY
        post_index = population_index[synapses.post_population]
        lists.append((node_start[synapses.pre_population], n_pre, post_index, receptor, n_stages, row_count))
        counts = np.bincount(row, minlength=n_stages * n_pre)
        row_pointer.append(entry_count + np.concatenate(([0], np.cumsum(counts))))
        posts.append(synapses.post[order])
        row_delays.append(row_delay[order])
        words.append(synapses.weight_words[order])
        row_count += n_stages * n_pre + 1
        entry_count += row.size

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=np.int64)

    return FlatLayout(
        np.ascontiguousarray(np.concatenate(columns, axis=1) if columns else np.zeros((len(PARAMETERS), 0)), np.int64),
        np.asarray(populations, np.int64).reshape(-1, 5),
        np.asarray(lists, np.int64).reshape(-1, 6),
        joined(row_pointer),
        joined(posts),
        joined(row_delays),
        joined(words),
        ring_size,
    )


@compiled
def _wrap32(value):
    return ((value + 2**31) & (2**32 - 1)) - 2**31


@compiled
def _multiply(a, b, nearest):
    product = a * b
    if nearest:
        product += 1 << 14
    return _wrap32(product >> 15)


@compiled
def _run(
    sources,
    neuron,
    population,
    synapse_list,
    row_pointer,
    post,
    row_delay,
    word,
    ring_size,
    nearest,
    max_word,
    spikes,
    voltages,
    excitatory,
    inhibitory,
    synaptic,
    saturations,
):
    batch, steps, n_sources = sources.shape
    n = neuron.shape[1]
    history = np.zeros((steps, n_sources + n), np.bool_)
    ring = np.zeros(ring_size, np.int64)
    crossed = np.zeros(max(ring_size, 1), np.int64)
    v = np.zeros(n, np.int64)
    i_exc = np.zeros(n, np.int64)
    i_inh = np.zeros(n, np.int64)
    refractory = np.zeros(n, np.int64)
    for b in range(batch):
        ring[:] = 0
        i_exc[:] = 0
        i_inh[:] = 0
        refractory[:] = 0
        for i in range(n):
            v[i] = neuron[0, i]
        for step in range(steps):
            for i in range(n_sources):
                history[step, i] = sources[b, step, i]
        for step in range(steps):
            for p in range(population.shape[0]):
                first, size, slots, shift, ring_start = population[p]
                slot = step % slots
                for j in range(size):
                    i = first + j
                    exc_index = ring_start + slot * size + j
                    inh_index = ring_start + (slots + slot) * size + j
                    init = neuron[9, i]
                    i_exc[i] = _wrap32(i_exc[i] + ((_wrap32(ring[exc_index] << shift) * init) >> 32))
                    i_inh[i] = _wrap32(i_inh[i] + ((_wrap32(ring[inh_index] << shift) * init) >> 32))
                    ring[exc_index] = 0
                    ring[inh_index] = 0
                    if refractory[i] <= 0:
                        current = _wrap32(i_exc[i] - i_inh[i] + neuron[1, i])
                        target = _wrap32(_multiply(current, neuron[5, i], nearest) + neuron[2, i])
                        v[i] = _wrap32(target - _multiply(neuron[6, i], _wrap32(target - v[i]), nearest))
                    else:
                        refractory[i] -= 1
                    spiked = v[i] >= neuron[3, i]
                    if spiked:
                        v[i] = neuron[4, i]
                        refractory[i] = neuron[7, i]
                    history[step, n_sources + i] = spiked
                    spikes[b, step, i] = spiked
                    voltages[b, step, i] = v[i]
                    excitatory[b, step, i] = i_exc[i]
                    inhibitory[b, step, i] = i_inh[i]
                    synaptic[b, step, i] = i_exc[i] - i_inh[i]
                    i_exc[i] = (i_exc[i] * neuron[8, i]) >> 32
                    i_inh[i] = (i_inh[i] * neuron[8, i]) >> 32
            for k in range(synapse_list.shape[0]):
                pre_start, n_pre, p, receptor, n_stages, row_start = synapse_list[k]
                first, size, slots, shift, ring_start = population[p]
                n_crossed = 0
                for stage in range(n_stages):
                    sent = step - stage * slots
                    if sent < 0:
                        break
                    for q in range(n_pre):
                        if history[sent, pre_start + q]:
                            row = row_start + stage * n_pre + q
                            for e in range(row_pointer[row], row_pointer[row + 1]):
                                index = ring_start + (receptor * slots + (step + row_delay[e]) % slots) * size + post[e]
                                old = ring[index]
                                ring[index] = old + word[e]
                                if old <= max_word and old + word[e] > max_word:
                                    crossed[n_crossed] = index
                                    n_crossed += 1
                saturations[p] += n_crossed
                for c in range(n_crossed):
                    ring[crossed[c]] = max_word


def simulate_model(
    layout: SpiNNakerModel, inputs: dict[str, np.ndarray], membrane_rounding: str
) -> tuple[Recording, SpiNNakerRunCounters]:
    """Same contract as :func:`neurodelay.refsim.spinnaker.simulate_model` (``membrane_rounding`` checked
    there): ``{source: bool [batch, steps, n]}`` in; spikes and int64 ``v``, ``i_syn``, ``i_exc``,
    ``i_inh`` ``[batch, steps, n]`` per population (views into one array per
    quantity) and the saturation counters out."""
    batch, steps = next(iter(inputs.values())).shape[:2]
    flat = flatten(layout)
    trains = {name: np.asarray(inputs[name], bool) for name in layout.sources}
    sources = np.zeros((batch, steps, 0), bool)
    if layout.sources:
        sources = np.concatenate([trains[name] for name in layout.sources], axis=2)
    shape = (batch, steps, flat.neuron.shape[1])
    spikes = np.zeros(shape, bool)
    states = {key: np.zeros(shape, np.int64) for key in ("v", "i_exc", "i_inh", "i_syn")}
    saturations = np.zeros(len(layout.populations), np.int64)
    _run(
        np.ascontiguousarray(sources),
        flat.neuron,
        flat.population,
        flat.synapse_list,
        flat.row_pointer,
        flat.post,
        flat.row_delay,
        flat.word,
        flat.ring_size,
        membrane_rounding == "nearest",
        WEIGHT_WORD_MAX,
        spikes,
        states["v"],
        states["i_exc"],
        states["i_inh"],
        states["i_syn"],
        saturations,
    )
    record = {name: PopulationRecording(train.copy()) for name, train in trains.items()}
    counters = SpiNNakerRunCounters({})
    for index, (name, population) in enumerate(layout.populations.items()):
        part = slice(int(flat.population[index, 0]), int(flat.population[index, 0]) + population.size)
        record[name] = PopulationRecording(
            spikes[:, :, part],
            {key: states[key][:, :, part] for key in ("v", "i_syn", "i_exc", "i_inh")},
            state_scales(layout, population),
        )
        counters.ring_buffer_saturations[name] = int(saturations[index])
    return Recording(executor_name(membrane_rounding), layout.dt_ms, steps, record), counters
