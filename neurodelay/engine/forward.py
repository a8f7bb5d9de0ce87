"""Forward pass of the engine: the IR dynamics (:mod:`neurodelay.ir.nodes`) in torch, batched; the
discretisation of docs/engine.md §E2 (Mészáros, Knight & Nowotny 2025, after Wunderlich & Pehle 2021).

Per step n, for every LIF / leaky-integrator population (order irrelevant: every connection has a
latency of at least one step):

    I = beta * I + (arrivals for step n)
    V = rest + alpha * (V - rest) + (1 - alpha) * (i_scale * I + bias)
    LIF: spike where V >= threshold; V := reset there

then every spike (b, i) of step k through synapse (i, j) of integer delay d adds w_ij to the
post population's input at step k + 1 + d. Delays are split as d = q S + r (r < S, S the post
population's bucket width, :mod:`neurodelay.engine.buckets`): at step n, the bucket-q synapses of the
spikes of step n - q S add their weights into a ring of S steps at n + 1 + r. The ring stays small
whatever the largest delay, so the cost per delivery does not grow with it.

The tape keeps what the adjoint pass needs and nothing that grows with T x n except the readout
voltage traces: the spikes (batch, neuron) of every spiking population (a
:class:`~neurodelay.engine.spike_log.SpikeLog`) and the two membrane slopes at each LIF spike,

    slope_before = (1 - alpha) (u - threshold),  slope_after = (1 - alpha) (u - reset),
    u = rest + i_scale * I + bias,

the voltage change per step just before and just after the threshold crossing (voltage units per
step).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .buckets import BucketTable, ChunkSchedule, bucket_table, chunk_schedule, chunks_due
from .layout import CompiledNetwork, integer_delays
from .ring import MirroredRing
from .spike_log import SpikeLog


@dataclass
class ForwardTape:
    """Result of :func:`simulate`.

    readout: ``{leaky-integrator population: V [batch, steps, n]}``.
    spike_counts: ``{LIF population: [batch, n]}`` spikes per trial.
    tables: ``{projection: BucketTable}`` the synapses as the pass used them.
    spikes: ``{population: SpikeLog}`` for spike sources and LIF populations.
    slopes: ``{LIF population: (slope_before [n_spikes], slope_after [n_spikes])}`` per spike id of its log.
    schedules: ``{projection from a spike source: ChunkSchedule}``, reused by the backward pass.
    states: only with ``record_states``: ``{population: {"v"|"i_syn": [batch, steps, n]}}``.
    """

    batch: int
    steps: int
    tables: dict[str, BucketTable]
    readout: dict[str, torch.Tensor]
    spike_counts: dict[str, torch.Tensor]
    spikes: dict[str, SpikeLog]
    slopes: dict[str, tuple[torch.Tensor, torch.Tensor]]
    schedules: dict[str, ChunkSchedule]
    states: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)


def synapse_tables(
    compiled: CompiledNetwork, weights: dict[str, torch.Tensor], delays_steps: dict[str, torch.Tensor]
) -> dict[str, BucketTable]:
    """Weights and integer delays (``floor(d + 0.5)`` clamped to [0, max]) of the existing synapses,
    bucketed by the post population's bucket width."""
    return {
        c.name: bucket_table(
            weights[c.name].detach(),
            integer_delays(delays_steps[c.name].detach(), c.max_delay_steps),
            c.mask,
            c.max_delay_steps,
            compiled.group(c.post).bucket_steps,
        )
        for c in compiled.connections
    }


def simulate(
    compiled: CompiledNetwork,
    sources: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    delays_steps: dict[str, torch.Tensor],
    *,
    record_states: bool = False,
) -> ForwardTape:
    """Run the network on ``sources`` (``{name: [batch, steps, n]}`` 0/1) with the given parameters.

    weights / delays_steps: ``{projection: [n_pre, n_post]}``; delays are float steps, rounded here.
    Every trial starts from I = 0, V = rest and empty rings.
    """
    batch, steps = next(iter(sources.values())).shape[:2]
    device, dtype = compiled.device, compiled.dtype
    tables = synapse_tables(compiled, weights, delays_steps)
    rings = {g.name: MirroredRing(batch, g.bucket_steps, g.size, device=device, dtype=dtype) for g in compiled.groups}
    current = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    voltage = {g.name: g.rest.expand(batch, g.size).clone() for g in compiled.groups}
    spikes = {name: SpikeLog.from_dense(sources[name]) for name in compiled.sources}
    spikes.update({g.name: SpikeLog(device) for g in compiled.spiking})
    slopes: dict[str, list] = {g.name: [] for g in compiled.spiking}
    counts = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.spiking}
    traces: dict[str, list[torch.Tensor]] = {g.name: [] for g in compiled.readouts}
    recorded: dict[str, dict[str, list[torch.Tensor]]] = (
        {g.name: {"v": [], "i_syn": [], "spikes": []} for g in compiled.groups} if record_states else {}
    )

    # spike sources are known in advance: their deliveries are scheduled for the whole pass at once
    scheduled = {
        c.name: chunk_schedule(tables[c.name], spikes[c.pre], steps)
        for c in compiled.connections
        if c.pre in compiled.sources
    }

    for step in range(steps):
        for group in compiled.groups:
            i_syn = group.beta * current[group.name] + rings[group.name].take_arrivals(step)
            drive = group.rest + group.i_scale * i_syn + group.bias
            v = group.alpha * voltage[group.name] + (1.0 - group.alpha) * drive
            if group.is_lif:
                fired = v >= group.threshold
                batch_index, neuron_index = torch.nonzero(fired, as_tuple=True)
                spikes[group.name].append(batch_index, neuron_index)
                if batch_index.numel():
                    step_gain = (1.0 - group.alpha)[neuron_index]
                    u = drive[batch_index, neuron_index]
                    slopes[group.name].append(
                        (step_gain * (u - group.threshold[neuron_index]), step_gain * (u - group.reset[neuron_index]))
                    )
                    v = torch.where(fired, group.reset, v)
                    counts[group.name] += fired
                if record_states:
                    recorded[group.name]["spikes"].append(fired)
            else:
                traces[group.name].append(v)
            current[group.name], voltage[group.name] = i_syn, v
            if record_states:
                recorded[group.name]["v"].append(v)
                recorded[group.name]["i_syn"].append(i_syn)
        for connection in compiled.connections:
            if connection.name in scheduled:
                due = scheduled[connection.name].at(step)
            else:
                due = chunks_due(tables[connection.name], spikes[connection.pre], step)
            if due is None:
                continue
            chunk, _, batch_index = due
            table, ring = tables[connection.name], rings[connection.post]
            ring_offset, weight = table.rows(chunk)
            ring.add_at(ring_offset + ring.base_positions(step, batch_index), weight)

    states = {
        name: {key: torch.stack(values, 1) for key, values in parts.items() if values}
        for name, parts in recorded.items()
    }
    return ForwardTape(
        batch,
        steps,
        tables,
        {name: torch.stack(v, 1) for name, v in traces.items()},
        counts,
        spikes,
        {name: joined(parts, device, dtype) for name, parts in slopes.items()},
        scheduled,
        states,
    )


def joined(
    parts: list[tuple[torch.Tensor, torch.Tensor]], device: torch.device, dtype: torch.dtype
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-step ``(slope_before, slope_after)`` pairs concatenated in spike-id order."""
    if not parts:
        empty = torch.zeros(0, device=device, dtype=dtype)
        return empty, empty
    return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
