"""Adjoint (EventProp) backward pass with delays: exact weight and delay gradients of the forward pass.

Notation (per neuron, step k, counted back from the last step): ``a_v[k] = dL/dV[k]`` for the
voltage as computed at step k (before a reset) and ``a_i[k] = dL/dI[k]``. Between spikes they are
the exact reverse of the forward recursions (the closed-form one-step solution of EventProp's
adjoint ODEs [Wunderlich & Pehle 2021]; docs/engine.md §E3-§E4):

    a_v[k] = alpha * a_v[k+1] + dL/dV_readout[k]            (source: the readout trace's gradient)
    a_i[k] = (1 - alpha) * i_scale * a_v[k] + beta * a_i[k+1]

At a spike of a LIF neuron at step k the voltage is reset, so the neuron's sensitivity flows through
its spike time t (in steps). With ``s-`` / ``s+`` the slopes recorded in the forward pass
(voltage change per step just before / after the crossing) and ``dL/dt`` the effect of moving the
spike later,

    dL/dt  = sum over outgoing synapses (i, j) of  w_ij * shift_j[k + 1 + d_ij]  -  alpha a_v[k+1] * s+
    a_v[k] = -dL/dt / s-  +  dL/dcount                                            (the jump, docs/engine.md §E4)

where ``shift_j[m] = dL/d(arrival step)`` of a unit weight arriving at post neuron j at step m is the
central difference ``(a_i[m+1] - a_i[m-1]) / 2`` written with values at step m only:

    shift[m] = 1/2 (1 - beta)(1 + 1/beta) a_i[m]  -  1/2 (1 - alpha) i_scale a_w[m],
    a_w[m]   = (alpha + 1/beta) a_v[m] + dL/dV_readout[m-1]

(exact for leaky-integrator targets; for LIF targets it assumes no spike of the target at m - 1;
the continuous limit is EventProp's ``w (lambda_V - lambda_I)`` term). The rings hold a_i and
shift. The per-synapse gradients,
summed over the pre neuron's spikes at steps k (Mészáros, Knight & Nowotny 2025; docs/engine.md §E4, in per-step units):

    dL/dw_ij = sum_k a_i_j[k + 1 + d_ij]          dL/dd_ij = sum_k w_ij * shift_j[k + 1 + d_ij]

``dL/dd`` is per timestep of delay, evaluated at the rounded delay. The values at step k + 1 + d
are read as in the forward pass (:mod:`neurodelay.engine.buckets`): at step n the bucket-q synapses
of the spikes of step n - q S read rings of S steps at n + 1 + r, so the cost per synapse does not
grow with the maximum delay; a spike's ``dL/dt`` collects its buckets' terms in a per-spike
accumulator until the pass reaches its step. Arrivals after the last step read 0, as in the
forward pass where they are dropped. All spikes are back-propagated; each trial starts from zero
adjoints.
"""

from __future__ import annotations

import torch

from .buckets import BucketTable, chunk_schedule
from .forward import ForwardTape
from .layout import CompiledNetwork
from .ring import MirroredRing


def adjoint(
    compiled: CompiledNetwork,
    tape: ForwardTape,
    readout_grads: dict[str, torch.Tensor],
    count_grads: dict[str, torch.Tensor],
    *,
    per_trial: bool = False,
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(weight_grads, delay_grads)``, each ``{projection: [n_pre, n_post]}`` (0 at absent synapses).

    readout_grads: ``{leaky-integrator population: dL/dV [batch, steps, n]}``.
    count_grads: ``{LIF population: dL/dcount [batch, n]}``, injected at every spike of the neuron.
    per_trial: keep one gradient per trial, ``[batch, n_pre, n_post]``, instead of their sum (used by
        gradient checks).
    """
    batch, steps = tape.batch, tape.steps
    device, dtype = compiled.device, compiled.dtype

    def ring(group) -> MirroredRing:
        return MirroredRing(batch, group.bucket_steps, group.size, device=device, dtype=dtype)

    ring_i = {g.name: ring(g) for g in compiled.groups}
    ring_shift = {g.name: ring(g) for g in compiled.groups}
    adj_v = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    adj_i = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    gain = {g.name: (1.0 - g.alpha) * g.i_scale for g in compiled.groups}
    shift_i = {g.name: 0.5 * (1.0 - g.beta) * (1.0 + 1.0 / g.beta) for g in compiled.groups}
    shift_v = {g.name: 0.5 * (1.0 - g.alpha) * g.i_scale for g in compiled.groups}
    weight_v = {g.name: g.alpha + 1.0 / g.beta for g in compiled.groups}
    trials = batch if per_trial else 1
    # per bucket-table entry [trials * chunks, (weight, delay), width], mapped to synapses at the end
    grads = {
        c.name: torch.zeros(
            trials * tape.tables[c.name].chunks, 2, tape.tables[c.name].width, device=device, dtype=dtype
        )
        for c in compiled.connections
    }
    # dL/dt of each spike through its outgoing synapses, collected bucket by bucket
    spike_time_effect = {
        g.name: torch.zeros(tape.spikes[g.name].total, device=device, dtype=dtype) for g in compiled.spiking
    }

    for group in compiled.readouts:
        # index T (one step past the trial): a_i = 0, a_w = dL/dV[T-1], so that an arrival there
        # gets the central difference across the trial's end
        ring_shift[group.name].store(steps, -shift_v[group.name] * readout_grads[group.name][:, steps - 1])
    schedules = {
        c.name: tape.schedules.get(c.name) or chunk_schedule(tape.tables[c.name], tape.spikes[c.pre], steps)
        for c in compiled.connections
    }
    for step in range(steps - 1, -1, -1):
        for connection in compiled.connections:
            table = tape.tables[connection.name]
            due = schedules[connection.name].at(step)
            if due is None:
                continue
            chunk, spike, batch_index = due
            ring_offset, weight = table.rows(chunk)
            positions = ring_offset + ring_i[connection.post].base_positions(step, batch_index)
            arrived_i = ring_i[connection.post].gather(positions)
            weighted_shift = weight * ring_shift[connection.post].gather(positions)
            rows = chunk + batch_index * table.chunks if per_trial else chunk
            grads[connection.name].index_add_(0, rows, torch.stack((arrived_i, weighted_shift), 1))
            if connection.pre in spike_time_effect:
                spike_time_effect[connection.pre].index_add_(0, spike, weighted_shift.sum(1))
        for group in compiled.groups:
            carried_v = group.alpha * adj_v[group.name]
            if group.is_lif:
                new_v = carried_v
                log = tape.spikes[group.name]
                if log.count(step):
                    batch_index, neuron_index = log.at(step)
                    first, last = log.offsets[step], log.offsets[step + 1]
                    slope_before, slope_after = (s[first:last] for s in tape.slopes[group.name])
                    d_time = (
                        spike_time_effect[group.name][first:last] - carried_v[batch_index, neuron_index] * slope_after
                    )
                    jumped = -d_time / slope_before
                    if group.name in count_grads:
                        jumped = jumped + count_grads[group.name][batch_index, neuron_index]
                    new_v = carried_v.index_put((batch_index, neuron_index), jumped)
                shift_term = weight_v[group.name] * new_v
            else:
                readout_grad = readout_grads[group.name]
                new_v = carried_v + readout_grad[:, step]
                shift_term = weight_v[group.name] * new_v + (readout_grad[:, step - 1] if step else 0.0)
            new_i = gain[group.name] * new_v + group.beta * adj_i[group.name]
            ring_shift[group.name].store(step, shift_i[group.name] * new_i - shift_v[group.name] * shift_term)
            ring_i[group.name].store(step, new_i)
            adj_v[group.name], adj_i[group.name] = new_v, new_i

    weight_grads, delay_grads = {}, {}
    for connection in compiled.connections:
        table = tape.tables[connection.name]
        weight_grads[connection.name] = per_synapse(table, grads[connection.name][:, 0], trials, per_trial)
        delay_grads[connection.name] = per_synapse(table, grads[connection.name][:, 1], trials, per_trial)
    return weight_grads, delay_grads


def per_synapse(table: BucketTable, per_entry: torch.Tensor, trials: int, per_trial: bool) -> torch.Tensor:
    """Gradients per table entry ``[trials * chunks, width]`` as ``[n_pre, n_post]`` (``[trials, n_pre,
    n_post]`` with ``per_trial``); padding entries land in a spare slot that is dropped."""
    size = table.n_pre * table.n_post
    result = torch.zeros(trials, size + 1, device=per_entry.device, dtype=per_entry.dtype)
    result.scatter_(1, table.synapse.view(1, -1).expand(trials, -1), per_entry.reshape(trials, -1))
    result = result[:, :size]
    return result.view(trials, table.n_pre, table.n_post) if per_trial else result.view(table.n_pre, table.n_post)
