"""Forward pass of the engine: the IR dynamics (:mod:`neurodelay.ir.nodes`) in torch, batched.

Per step n, for every LIF / leaky-integrator population (order irrelevant: every connection has a
latency of at least one step):

    I = beta * I + ring[n mod R];  ring[n mod R] = 0
    V = rest + alpha * (V - rest) + (1 - alpha) * (i_scale * I + bias)
    LIF: spike where V >= threshold; V := reset there

then every spike (b, i) of step n through synapse (i, j) of integer delay d adds w_ij to
``ring[(n + 1 + d) mod R]`` of the post population (R = 1 + largest incoming max delay). The cost
of a step is O(spikes x n_post) whatever the delays (see :mod:`neurodelay.engine.ring`).

The tape keeps what the adjoint pass needs and nothing that grows with T x n except the readout
voltage traces: per step the spikes (batch, neuron) of every spiking population and the two
membrane slopes at each LIF spike,

    slope_before = (1 - alpha) (u - threshold),  slope_after = (1 - alpha) (u - reset),
    u = rest + i_scale * I + bias,

the voltage change per step just before and just after the threshold crossing (voltage units per
step).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .layout import CompiledNetwork, integer_delays, to_blocks
from .ring import BlockedRing

SpikeEvents = tuple[torch.Tensor, torch.Tensor]
"""``(batch_index [K], neuron_index [K])`` int64 of the K spikes of one population in one step."""


@dataclass
class SynapseTable:
    """One projection's weights (masked) and integer delays, block-major ``[n_blocks, n_pre, block]``."""

    weights_blocked: torch.Tensor
    delays_blocked: torch.Tensor


@dataclass
class ForwardTape:
    """Result of :func:`simulate`.

    readout: ``{leaky-integrator population: V [batch, steps, n]}``.
    spike_counts: ``{LIF population: [batch, n]}`` spikes per trial.
    spikes: ``{population: [per step: SpikeEvents or None]}`` for spike sources and LIF populations.
    slopes: ``{LIF population: [per step: (slope_before [K], slope_after [K]) or None]}``.
    states: only with ``record_states``: ``{population: {"v"|"i_syn": [batch, steps, n]}}``.
    """

    batch: int
    steps: int
    tables: dict[str, SynapseTable]
    readout: dict[str, torch.Tensor]
    spike_counts: dict[str, torch.Tensor]
    spikes: dict[str, list[SpikeEvents | None]]
    slopes: dict[str, list[tuple[torch.Tensor, torch.Tensor] | None]]
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def synapse_tables(compiled: CompiledNetwork, weights: dict[str, torch.Tensor],
                   delays_steps: dict[str, torch.Tensor]) -> dict[str, SynapseTable]:
    """Masked weights and integer delays (``floor(d + 0.5)`` clamped to [0, max]) in block-major form."""
    tables = {}
    for connection in compiled.connections:
        post = compiled.group(connection.post)
        weight = weights[connection.name].detach()
        delay = integer_delays(delays_steps[connection.name].detach(), connection.max_delay_steps)
        if connection.mask is not None:
            weight = torch.where(connection.mask, weight, torch.zeros_like(weight))
            delay = torch.where(connection.mask, delay, torch.zeros_like(delay))
        tables[connection.name] = SynapseTable(to_blocks(weight, post.n_blocks, compiled.block_size),
                                               to_blocks(delay, post.n_blocks, compiled.block_size))
    return tables


def source_events(spikes: torch.Tensor) -> list[SpikeEvents | None]:
    """Per step the spikes of a ``[batch, steps, n]`` 0/1 tensor as ``(batch_index, neuron_index)``."""
    batch, steps, _ = spikes.shape
    step_index, batch_index, neuron_index = torch.nonzero(spikes.permute(1, 0, 2), as_tuple=True)
    counts = torch.bincount(step_index, minlength=steps).tolist()
    events: list[SpikeEvents | None] = []
    for b, i in zip(torch.split(batch_index, counts), torch.split(neuron_index, counts)):
        events.append((b, i) if b.numel() else None)
    return events


def simulate(compiled: CompiledNetwork, sources: dict[str, torch.Tensor], weights: dict[str, torch.Tensor],
             delays_steps: dict[str, torch.Tensor], *, record_states: bool = False) -> ForwardTape:
    """Run the network on ``sources`` (``{name: [batch, steps, n]}`` 0/1) with the given parameters.

    weights / delays_steps: ``{projection: [n_pre, n_post]}``; delays are float steps, rounded here.
    Every trial starts from I = 0, V = rest and empty rings.
    """
    batch, steps = next(iter(sources.values())).shape[:2]
    device, dtype = compiled.device, compiled.dtype
    tables = synapse_tables(compiled, weights, delays_steps)
    rings = {g.name: BlockedRing(batch, g.ring_slots, g.size, g.n_blocks, compiled.block_size,
                                 device=device, dtype=dtype) for g in compiled.groups}
    current = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    voltage = {g.name: g.rest.expand(batch, g.size).clone() for g in compiled.groups}
    static = {c.name: rings[c.post].static_positions(tables[c.name].delays_blocked) for c in compiled.connections}
    spikes: dict[str, list[SpikeEvents | None]] = {name: source_events(sources[name]) for name in compiled.sources}
    spikes.update({g.name: [] for g in compiled.spiking})
    slopes: dict[str, list] = {g.name: [] for g in compiled.spiking}
    counts = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.spiking}
    traces: dict[str, list[torch.Tensor]] = {g.name: [] for g in compiled.readouts}
    recorded: dict[str, dict[str, list[torch.Tensor]]] = {
        g.name: {"v": [], "i_syn": [], "spikes": []} for g in compiled.groups} if record_states else {}

    for step in range(steps):
        for group in compiled.groups:
            i_syn = group.beta * current[group.name] + rings[group.name].take_arrivals(step)
            drive = group.rest + group.i_scale * i_syn + group.bias
            v = group.alpha * voltage[group.name] + (1.0 - group.alpha) * drive
            if group.is_lif:
                fired = v >= group.threshold
                batch_index, neuron_index = torch.nonzero(fired, as_tuple=True)
                if batch_index.numel():
                    step_gain = (1.0 - group.alpha)[neuron_index]
                    u = drive[batch_index, neuron_index]
                    slopes[group.name].append((step_gain * (u - group.threshold[neuron_index]),
                                               step_gain * (u - group.reset[neuron_index])))
                    spikes[group.name].append((batch_index, neuron_index))
                    v = torch.where(fired, group.reset, v)
                    counts[group.name] += fired
                else:
                    slopes[group.name].append(None)
                    spikes[group.name].append(None)
                if record_states:
                    recorded[group.name]["spikes"].append(fired)
            else:
                traces[group.name].append(v)
            current[group.name], voltage[group.name] = i_syn, v
            if record_states:
                recorded[group.name]["v"].append(v)
                recorded[group.name]["i_syn"].append(i_syn)
        for connection in compiled.connections:
            events = spikes[connection.pre][step]
            if events is None:
                continue
            batch_index, pre_index = events
            ring = rings[connection.post]
            positions = ring.positions(step, batch_index, pre_index, static[connection.name])
            ring.add_at(positions, tables[connection.name].weights_blocked.index_select(1, pre_index))

    states = {name: {key: torch.stack(values, 1) for key, values in parts.items() if values}
              for name, parts in recorded.items()}
    return ForwardTape(batch, steps, tables, {name: torch.stack(v, 1) for name, v in traces.items()},
                       counts, spikes, slopes, states)
