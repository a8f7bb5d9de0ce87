"""Compiled engine of the refsim's Loihi 2 mode: the arithmetic of :mod:`neurodelay.refsim.loihi2`
with the whole time loop in one numba function, one input after the other.

The numpy module stays the oracle (tests/test_refsim_compiled.py compares every recorded array).
Populations are laid end to end: spike sources take node indices ``0 .. S-1``, LIF neurons
``S .. S+N-1`` in model order. Each connection keeps its nonzero effective weights as a sparse row
per pre neuron, so a step costs the synapses of the neurons that spiked. The exponent of a
connection applies to the per-step sum of each delay group (as in the numpy model): for
``weight_exp >= 0`` that is the sum of the shifted weights, added straight into the pending input;
for ``weight_exp < 0`` (a floor shift, which does not distribute over a sum) the connection's sums
are gathered per (delay group, post neuron) first and shifted once.

The pending input has ``2 * slots`` rows (``slots`` = 2 + the longest delay): a spike of step s with
delay d lands in row ``s mod slots + 1 + d``, and step t reads (and clears) rows ``t mod slots`` and
``t mod slots + slots``, which hold exactly the input arriving at t. No modulo per synapse.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..quant.loihi2 import FORMAT, Loihi2Model, effective_weights
from ..recording import PopulationRecording, Recording
from .jit import compiled
from .loihi2 import LifParameters


@dataclass(frozen=True)
class FlatModel:
    """A :class:`Loihi2Model` as flat int64 arrays for the kernel.

    Per LIF neuron ``[N]``: current_factor, voltage_factor, threshold, bias. Per connection ``[C]``:
    pre_start (node index of its pre population's first neuron), n_pre, post_start (index of its post
    population's first LIF neuron), n_post, delay_start (into ``delays``: its distinct delays, one
    per group), n_groups, weight_exp, row_start (into ``row_pointer``, n_pre + 1 entries per
    connection). Entries ``[E]``, per pre neuron in row order: target and weight; for
    ``weight_exp >= 0`` target is ``(1 + delay) * N + post`` (global post index) and weight the
    shifted effective weight, otherwise target is ``group * n_post + post`` and weight the effective
    weight. ``slots``: 2 + the longest delay.
    """

    current_factor: np.ndarray
    voltage_factor: np.ndarray
    threshold: np.ndarray
    bias: np.ndarray
    pre_start: np.ndarray
    n_pre: np.ndarray
    post_start: np.ndarray
    n_post: np.ndarray
    delay_start: np.ndarray
    n_groups: np.ndarray
    weight_exp: np.ndarray
    row_start: np.ndarray
    delays: np.ndarray
    row_pointer: np.ndarray
    target: np.ndarray
    weight: np.ndarray
    slots: int


_FLAT: weakref.WeakKeyDictionary[Loihi2Model, FlatModel] = weakref.WeakKeyDictionary()


def flatten(model: Loihi2Model) -> FlatModel:
    """The kernel's arrays for ``model`` (same parameters, weights and delays as the numpy engine),
    built once per model object (models are read-only)."""
    flat = _FLAT.get(model)
    if flat is None:
        flat = _FLAT[model] = _flatten(model)
    return flat


def compact(values: np.ndarray, dtype: type) -> np.ndarray:
    """``values`` as ``dtype`` (uint32 or int32) when they fit, else int64: half the memory traffic per
    synapse, and unsigned indices spare the kernel numba's negative-index handling. One dtype per
    role keeps the kernel at one compiled signature for every realistic network."""
    info = np.iinfo(dtype)
    if values.size == 0 or (values.min() >= info.min and values.max() <= info.max):
        return values.astype(dtype)
    return values


def _flatten(model: Loihi2Model) -> FlatModel:
    node_start, lif_start = {}, {}
    offset = 0
    for name, size in model.sources.items():
        node_start[name], offset = offset, offset + size
    n_sources = offset
    per_neuron: dict[str, list[np.ndarray]] = {"cf": [], "vf": [], "th": [], "bias": []}
    for neurons in model.neurons:
        lif_start[neurons.name] = offset - n_sources
        node_start[neurons.name], offset = offset, offset + neurons.size
        parameters = LifParameters.of(neurons)
        per_neuron["cf"].append(np.full(neurons.size, parameters.current_factor, np.int64))
        per_neuron["vf"].append(np.full(neurons.size, parameters.voltage_factor, np.int64))
        per_neuron["th"].append(np.full(neurons.size, parameters.threshold, np.int64))
        per_neuron["bias"].append(np.broadcast_to(np.asarray(parameters.bias, np.int64), (neurons.size,)))
    n_lif = offset - n_sources
    connection: dict[str, list[int]] = {key: [] for key in ("pre", "n_pre", "post", "n_post", "d0", "k", "e", "r0")}
    delays, row_pointer, target, weight = [], [], [], []
    delay_count = row_count = entry_count = 0
    for synapses in model.synapses:
        weights = effective_weights(synapses.weights, synapses.sign_mode, synapses.num_weight_bits)
        unique = np.unique(synapses.delays_steps)
        n_pre, n_post = weights.shape
        pre, post = np.nonzero(weights)
        values = weights[pre, post]
        if synapses.weight_exp >= 0:
            target.append((1 + synapses.delays_steps[pre, post]) * n_lif + lif_start[synapses.post] + post)
            weight.append(values << synapses.weight_exp)
        else:
            target.append(np.searchsorted(unique, synapses.delays_steps[pre, post]) * n_post + post)
            weight.append(values)
        for key, value in zip(
            connection,
            (node_start[synapses.pre], n_pre, lif_start[synapses.post], n_post)
            + (delay_count, unique.size, synapses.weight_exp, row_count),
        ):
            connection[key].append(int(value))
        delays.append(unique.astype(np.int64))
        row_pointer.append(entry_count + np.concatenate(([0], np.cumsum(np.bincount(pre, minlength=n_pre)))))
        delay_count, row_count, entry_count = delay_count + unique.size, row_count + n_pre + 1, entry_count + pre.size

    def joined(parts: list[np.ndarray]) -> np.ndarray:
        return np.ascontiguousarray(np.concatenate(parts) if parts else np.zeros(0), dtype=np.int64)

    def listed(key: str) -> np.ndarray:
        return np.asarray(connection[key], np.int64)

    return FlatModel(
        joined(per_neuron["cf"]),
        joined(per_neuron["vf"]),
        joined(per_neuron["th"]),
        joined(per_neuron["bias"]),
        listed("pre"),
        listed("n_pre"),
        listed("post"),
        listed("n_post"),
        listed("d0"),
        listed("k"),
        listed("e"),
        listed("r0"),
        joined(delays),
        joined(row_pointer),
        compact(joined(target), np.uint32),
        compact(joined(weight), np.int32),
        2 + max((s.max_delay_steps for s in model.synapses), default=0),
    )


@compiled
def _wrap32(value):
    return ((value + 2**31) & (2**32 - 1)) - 2**31


@compiled
def _decay(state, factor):
    product = state * factor
    if product >= 0:
        return product >> 12
    return -((-product) >> 12)


@compiled
def _run(
    sources,
    current_factor,
    voltage_factor,
    threshold,
    bias,
    pre_start,
    n_pre,
    post_start,
    n_post,
    delay_start,
    n_groups,
    weight_exp,
    row_start,
    delays,
    row_pointer,
    target,
    weight,
    slots,
    limit,
    activation_shift,
    spikes,
    currents,
    voltages,
):
    batch, steps, n_sources = sources.shape
    n_lif = current_factor.size
    scratch_size = 1
    for c in range(n_pre.size):
        if weight_exp[c] < 0:
            scratch_size = max(scratch_size, n_groups[c] * n_post[c])
    scratch = np.zeros(scratch_size, np.int64)
    fired = np.zeros(n_sources + n_lif, np.bool_)
    pending = np.zeros(2 * slots * n_lif, np.int64)
    u = np.zeros(n_lif, np.int64)
    v = np.zeros(n_lif, np.int64)
    for b in range(batch):
        pending[:] = 0
        u[:] = 0
        v[:] = 0
        for step in range(steps):
            base = (step % slots) * n_lif
            fired[:n_sources] = sources[b, step]
            now, wrapped = pending[base : base + n_lif], pending[base + slots * n_lif : base + (slots + 1) * n_lif]
            spiked, current, voltage = spikes[b, step], currents[b, step], voltages[b, step]
            for i in range(n_lif):
                activation = _wrap32(now[i] + wrapped[i])
                now[i] = 0
                wrapped[i] = 0
                new_u = _wrap32(_decay(u[i], current_factor[i]) + (activation << activation_shift))
                if new_u > limit:
                    new_u -= 2 * limit
                elif new_u <= -limit:
                    new_u += 2 * limit
                new_v = _wrap32(_decay(v[i], voltage_factor[i]) + new_u + bias[i])
                new_v = min(max(new_v, -(limit - 1)), limit - 1)
                fires = new_v > threshold[i]
                if fires:
                    new_v = 0
                u[i] = new_u
                v[i] = new_v
                spiked[i] = fires
                current[i] = new_u
                voltage[i] = new_v
            fired[n_sources:] = spiked
            ahead = pending[base:]
            for c in range(n_pre.size):
                first_row = row_start[c] - pre_start[c]
                low, high = pre_start[c], pre_start[c] + n_pre[c]
                if weight_exp[c] >= 0:
                    for node in range(low, high):
                        if fired[node]:
                            start, stop = row_pointer[first_row + node], row_pointer[first_row + node + 1]
                            targets, weights = target[start:stop], weight[start:stop]
                            for e in range(stop - start):
                                ahead[targets[e]] += weights[e]
                    continue
                touched = False
                for node in range(low, high):
                    if fired[node]:
                        touched = True
                        start, stop = row_pointer[first_row + node], row_pointer[first_row + node + 1]
                        targets, weights = target[start:stop], weight[start:stop]
                        for e in range(stop - start):
                            scratch[targets[e]] += weights[e]
                if not touched:
                    continue
                width, shift = n_post[c], -weight_exp[c]
                for g in range(n_groups[c]):
                    row = ahead[(1 + delays[delay_start[c] + g]) * n_lif + post_start[c] :]
                    sums = scratch[g * width : (g + 1) * width]
                    for j in range(width):
                        if sums[j] != 0:
                            row[j] += sums[j] >> shift
                            sums[j] = 0


def simulate_model(model: Loihi2Model, inputs: dict[str, np.ndarray], executor: str) -> Recording:
    """Same contract as :func:`neurodelay.refsim.loihi2.simulate_model`: ``{source: bool [batch, steps, n]}``
    in, spikes and int64 ``u``, ``v`` ``[batch, steps, n]`` per population out (views into one
    ``[batch, steps, N]`` array per quantity)."""
    batch, steps = next(iter(inputs.values())).shape[:2]
    flat = flatten(model)
    trains = {name: np.asarray(train, bool) for name, train in inputs.items()}
    sources = np.zeros((batch, steps, 0), bool)
    if model.sources:
        sources = np.concatenate([trains[name] for name in model.sources], axis=2)
    n_lif = flat.current_factor.size
    spikes = np.zeros((batch, steps, n_lif), bool)
    currents = np.zeros((batch, steps, n_lif), np.int64)
    voltages = np.zeros((batch, steps, n_lif), np.int64)
    _run(
        np.ascontiguousarray(sources),
        flat.current_factor,
        flat.voltage_factor,
        flat.threshold,
        flat.bias,
        flat.pre_start,
        flat.n_pre,
        flat.post_start,
        flat.n_post,
        flat.delay_start,
        flat.n_groups,
        flat.weight_exp,
        flat.row_start,
        flat.delays,
        flat.row_pointer,
        flat.target,
        flat.weight,
        flat.slots,
        FORMAT.state_limit,
        FORMAT.activation_shift,
        spikes,
        currents,
        voltages,
    )
    record = {name: PopulationRecording(train.copy()) for name, train in trains.items()}
    start = 0
    for neurons in model.neurons:
        part = slice(start, start + neurons.size)
        start += neurons.size
        record[neurons.name] = PopulationRecording(
            spikes[:, :, part],
            {"u": currents[:, :, part], "v": voltages[:, :, part]},
            {"u": 1.0 / neurons.u_per_unit, "v": 1.0 / neurons.v_per_unit},
        )
    return Recording(executor, 1.0, steps, record)
