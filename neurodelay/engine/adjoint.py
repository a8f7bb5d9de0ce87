"""Adjoint (EventProp) backward pass with delays: exact weight and delay gradients of the forward pass.

Notation (per neuron, step k, counted back from the last step): ``a_v[k] = dL/dV[k]`` for the
voltage as computed at step k (before a reset) and ``a_i[k] = dL/dI[k]``. Between spikes they are
the exact reverse of the forward recursions (the closed-form one-step solution of EventProp's
adjoint ODEs, eventprop.md §2.3):

    a_v[k] = alpha * a_v[k+1] + dL/dV_readout[k]            (source: the readout trace's gradient)
    a_i[k] = (1 - alpha) * i_scale * a_v[k] + beta * a_i[k+1]

At a spike of a LIF neuron at step k the voltage is reset, so the neuron's sensitivity flows through
its spike time t (in steps). With ``s-`` / ``s+`` the slopes recorded in the forward pass
(voltage change per step just before / after the crossing) and ``dL/dt`` the effect of moving the
spike later,

    dL/dt  = sum over outgoing synapses (i, j) of  w_ij * shift_j[k + 1 + d_ij]  -  alpha a_v[k+1] * s+
    a_v[k] = -dL/dt / s-  +  dL/dcount                                            (the jump, §2.3)

where ``shift_j[m] = dL/d(arrival step)`` of a unit weight arriving at post neuron j at step m is the
central difference ``(a_i[m+1] - a_i[m-1]) / 2`` written with values at step m only:

    shift[m] = 1/2 (1 - beta)(1 + 1/beta) a_i[m]  -  1/2 (1 - alpha) i_scale a_w[m],
    a_w[m]   = (alpha + 1/beta) a_v[m] + dL/dV_readout[m-1]

(exact for leaky-integrator targets; for LIF targets it assumes no spike of the target at m - 1;
the continuous limit is EventProp's ``w (lambda_V - lambda_I)`` term). The rings hold a_i and a_w. The per-synapse gradients,
summed over the pre neuron's spikes at steps k (eventprop.md §2.4, in per-step units):

    dL/dw_ij = sum_k a_i_j[k + 1 + d_ij]          dL/dd_ij = sum_k w_ij * shift_j[k + 1 + d_ij]

``dL/dd`` is per timestep of delay, evaluated at the rounded delay. The values at step k + 1 + d
are read from rings of ``R = D + 1`` slots per post population, so the cost per step does not grow
with the maximum delay D; arrivals after the last step read 0, as in the forward pass where they
are dropped. All spikes are back-propagated; each trial starts from zero adjoints.
"""
from __future__ import annotations

import torch

from .forward import ForwardTape
from .layout import CompiledNetwork
from .ring import BlockedRing


def by_spike(blocked: torch.Tensor) -> torch.Tensor:
    """Block-major ``[n_blocks, K, block]`` -> ``[K, n_blocks * block]`` (one row per spike)."""
    n_blocks, spikes, block = blocked.shape
    return blocked.permute(1, 0, 2).reshape(spikes, n_blocks * block)


def adjoint(compiled: CompiledNetwork, tape: ForwardTape, readout_grads: dict[str, torch.Tensor],
            count_grads: dict[str, torch.Tensor], *, per_trial: bool = False
            ) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(weight_grads, delay_grads)``, each ``{projection: [n_pre, n_post]}`` (0 at absent synapses).

    readout_grads: ``{leaky-integrator population: dL/dV [batch, steps, n]}``.
    count_grads: ``{LIF population: dL/dcount [batch, n]}``, injected at every spike of the neuron.
    per_trial: keep one gradient per trial, ``[batch, n_pre, n_post]``, instead of their sum (the
        same accumulation into rows ``b * n_pre + i`` instead of ``i``; used by gradient checks).
    """
    batch, steps, block = tape.batch, tape.steps, compiled.block_size
    device, dtype = compiled.device, compiled.dtype

    def ring(group) -> BlockedRing:
        return BlockedRing(batch, group.ring_slots, group.size, group.n_blocks, block, device=device, dtype=dtype)

    ring_v = {g.name: ring(g) for g in compiled.groups}
    ring_i = {g.name: ring(g) for g in compiled.groups}
    static = {c.name: ring_i[c.post].static_positions(tape.tables[c.name].delays_blocked)
              for c in compiled.connections}
    adj_v = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    adj_i = {g.name: torch.zeros(batch, g.size, device=device, dtype=dtype) for g in compiled.groups}
    gain = {g.name: (1.0 - g.alpha) * g.i_scale for g in compiled.groups}
    shift_i = {g.name: g.blocked(0.5 * (1.0 - g.beta) * (1.0 + 1.0 / g.beta), block) for g in compiled.groups}
    shift_v = {g.name: g.blocked(0.5 * (1.0 - g.alpha) * g.i_scale, block) for g in compiled.groups}
    weight_v = {g.name: g.alpha + 1.0 / g.beta for g in compiled.groups}
    trials = batch if per_trial else 1

    def accumulator(connection) -> torch.Tensor:          # [trials * n_pre, n_blocks * block]
        n_blocks = compiled.group(connection.post).n_blocks
        return torch.zeros(trials * connection.n_pre, n_blocks * block, device=device, dtype=dtype)

    grad_w = {c.name: accumulator(c) for c in compiled.connections}
    grad_d = {c.name: accumulator(c) for c in compiled.connections}
    spiking = {g.name for g in compiled.spiking}

    for group in compiled.readouts:
        # index T (one step past the trial): a_i = 0, a_w = dL/dV[T-1], so that an arrival there
        # gets the central difference across the trial's end
        ring_v[group.name].store(steps, readout_grads[group.name][:, steps - 1])
    for step in range(steps - 1, -1, -1):
        spike_time_effect: dict[str, torch.Tensor] = {}
        for connection in compiled.connections:
            events = tape.spikes[connection.pre][step]
            if events is None:
                continue
            batch_index, pre_index = events
            table = tape.tables[connection.name]
            positions = ring_i[connection.post].positions(step, batch_index, pre_index, static[connection.name])
            arrived_i = ring_i[connection.post].gather(positions)
            arrived_v = ring_v[connection.post].gather(positions)
            weighted_shift = table.weights_blocked.index_select(1, pre_index) * (
                shift_i[connection.post] * arrived_i - shift_v[connection.post] * arrived_v)
            rows = batch_index * connection.n_pre + pre_index if per_trial else pre_index
            grad_w[connection.name].index_add_(0, rows, by_spike(arrived_i))
            grad_d[connection.name].index_add_(0, rows, by_spike(weighted_shift))
            if connection.pre in spiking:
                effect = spike_time_effect.setdefault(
                    connection.pre, torch.zeros(batch, compiled.group(connection.pre).size, device=device, dtype=dtype))
                effect.index_put_((batch_index, pre_index), weighted_shift.sum((0, 2)), accumulate=True)
        for group in compiled.groups:
            carried_v = group.alpha * adj_v[group.name]
            if group.is_lif:
                new_v = carried_v
                events = tape.spikes[group.name][step]
                if events is not None:
                    batch_index, neuron_index = events
                    slope_before, slope_after = tape.slopes[group.name][step]
                    downstream = spike_time_effect.get(group.name)
                    d_time = -carried_v[batch_index, neuron_index] * slope_after
                    if downstream is not None:
                        d_time = d_time + downstream[batch_index, neuron_index]
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
            ring_v[group.name].store(step, shift_term)
            ring_i[group.name].store(step, new_i)
            adj_v[group.name], adj_i[group.name] = new_v, new_i

    weight_grads, delay_grads = {}, {}
    for connection in compiled.connections:
        weight = grad_w[connection.name][:, : connection.n_post]
        delay = grad_d[connection.name][:, : connection.n_post]
        if per_trial:
            weight = weight.reshape(batch, connection.n_pre, connection.n_post)
            delay = delay.reshape(batch, connection.n_pre, connection.n_post)
        if connection.mask is not None:
            weight = torch.where(connection.mask, weight, torch.zeros_like(weight))
            delay = torch.where(connection.mask, delay, torch.zeros_like(delay))
        weight_grads[connection.name], delay_grads[connection.name] = weight, delay
    return weight_grads, delay_grads
