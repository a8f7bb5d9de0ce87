"""Triton kernels of the device path (:mod:`neurodelay.engine.device_pass`).

Four kernels, each launched once per population block or projection per pass, whatever the number
of timesteps or spikes, so that a training step costs a fixed number of launches and no host
synchronisation (``docs/gpu.md`` explains the choice):

- :func:`deliver_spikes` (forward, one program per few ``(trial b, step k)`` rows): every spike of the
  pre population at step k adds ``w_ij`` to the post block's arrivals at step ``k + 1 + d_ij``;
  arrivals at or after the trial's last step are dropped, as in the torch engine.
- :func:`neuron_forward` (one program per trial, looping over all steps): the IR dynamics of
  :mod:`neurodelay.ir.nodes` for one block of neurons; a block's internal (recurrent) projections
  are delivered inside the loop.
- :func:`neuron_adjoint` (one program per trial, looping backwards): the adjoint recursions of
  :mod:`neurodelay.engine.adjoint` (see ``docs/engine.md``), including the jump at every spike and
  the recurrent part of a spike's time effect.
- :func:`gather_gradients` (one program per few ``(b, k)`` rows): for every spike of the pre population at
  step k, the post block's adjoint values at ``k + 1 + d_ij`` give ``dL/dw_ij`` (``a_i``),
  ``dL/dd_ij`` (``w_ij * shift``) and the spike's time effect ``sum_j w_ij * shift_j``.

Spikes of a program's rows are enumerated without scratch memory: the rows' firing mask is
prefix-summed, and the s-th spike's position is recovered by a masked sum.
Arrays are row-major and contiguous: ``[batch, steps, neurons]`` (adjoint arrays have ``steps + 1``
rows per trial, the last one for arrivals at the step just past the trial). A block's column
``offset`` lets one launch address one population inside a block of several.

Set ``TRITON_INTERPRET=1`` before importing triton to run these kernels on CPU tensors (tests).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _spike_slot(fired, position, offsets, s):
    """The neuron index of the s-th spike of a row (``position``: prefix sum of ``fired`` minus 1)."""
    return tl.sum(tl.where(fired & (position == s), offsets, 0), axis=0)


@triton.jit
def _row_spikes(spikes, first_row, rows, n_pre, ROWS: tl.constexpr, BLOCK_PRE: tl.constexpr):
    """The spikes of ``ROWS`` consecutive ``(b, k)`` rows of ``spikes [B * T, n_pre]`` from
    ``first_row`` on, flattened: ``(fired [ROWS * BLOCK_PRE], position, flat index)``."""
    row = first_row + tl.arange(0, ROWS)[:, None]
    pre = tl.arange(0, BLOCK_PRE)[None, :]
    inside = (row < rows) & (pre < n_pre)
    fired = (tl.load(spikes + row * n_pre + pre, mask=inside, other=0) != 0) & inside
    fired = tl.reshape(fired, [ROWS * BLOCK_PRE])
    position = tl.cumsum(fired.to(tl.int32), 0) - 1
    return fired, position, tl.arange(0, ROWS * BLOCK_PRE)


@triton.jit
def _outgoing(
    fired, position, flat, s, first_row, steps, weights, delays, n_post, post, post_valid, BLOCK_PRE: tl.constexpr
):
    """The s-th spike of a program's rows: its row ``b * T + k``, neuron i, the weights ``w_i.`` and
    the arrival steps ``k + 1 + d_i.`` of its synapses (``[BLOCK_POST]`` each)."""
    index = _spike_slot(fired, position, flat, s).to(tl.int64)
    row = first_row + index // BLOCK_PRE
    i = index % BLOCK_PRE
    w = tl.load(weights + i * n_post + post, mask=post_valid, other=0.0)
    arrival = row % steps + 1 + tl.load(delays + i * n_post + post, mask=post_valid, other=0)
    return row, i, w, arrival


@triton.jit
def deliver_spikes(
    spikes,
    weights,
    delays,
    arrivals,
    steps,
    rows,
    n_pre,
    n_post,
    post_columns,
    post_offset,
    ROWS: tl.constexpr,
    BLOCK_PRE: tl.constexpr,
    BLOCK_POST: tl.constexpr,
):
    """spikes ``[B, T, n_pre]`` (any dtype, nonzero = spike); weights ``[n_pre, n_post]`` (0 at
    absent synapses); delays ``[n_pre, n_post]`` int32 steps; arrivals ``[B, T, post_columns]``,
    this projection's posts at columns ``post_offset ...``. Each program takes ``ROWS`` consecutive
    ``(b, k)`` rows of the ``rows = B * T``: grid ``(ceil(rows / ROWS),)``."""
    first_row = tl.program_id(0).to(tl.int64) * ROWS
    fired, position, flat = _row_spikes(spikes, first_row, rows, n_pre, ROWS, BLOCK_PRE)
    post = tl.arange(0, BLOCK_POST)
    post_valid = post < n_post
    for s in range(tl.sum(fired.to(tl.int32), axis=0)):
        row, i, w, arrival = _outgoing(
            fired, position, flat, s, first_row, steps, weights, delays, n_post, post, post_valid, BLOCK_PRE
        )
        tl.atomic_add(
            arrivals + ((row // steps) * steps + arrival) * post_columns + post_offset + post,
            w,
            mask=post_valid & (arrival < steps),
        )


@triton.jit
def neuron_forward(
    arrivals,
    spikes,
    trace,
    alpha,
    beta,
    i_scale,
    rest,
    bias,
    threshold,
    reset,
    rec_weights,
    rec_delays,
    steps,
    n,
    IS_LIF: tl.constexpr,
    HAS_RECURRENCE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """One block of n neurons over all steps, one program per trial (grid ``(B,)``).

    arrivals ``[B, T, n]``: input current arriving at each step (network current units); for LIF
    blocks, the membrane drive ``u = rest + i_scale * I + bias`` is written back into it at every
    spike (the adjoint's slopes need it, and the arrival value is no longer needed then).
    spikes ``[B, T, n]`` int8 (LIF) / trace ``[B, T, n]`` membrane voltage (leaky integrators).
    Per-neuron constants ``[n]``: alpha = exp(-dt/tau_m), beta = exp(-dt/tau_syn), i_scale, rest,
    bias, threshold, reset. rec_weights / rec_delays ``[n, n]``: the block's internal projections.
    """
    trial = tl.program_id(0).to(tl.int64)
    neuron = tl.arange(0, BLOCK)
    valid = neuron < n
    a = tl.load(alpha + neuron, mask=valid, other=0.0)
    b = tl.load(beta + neuron, mask=valid, other=0.0)
    scale = tl.load(i_scale + neuron, mask=valid, other=0.0)
    v_rest = tl.load(rest + neuron, mask=valid, other=0.0)
    drive_bias = tl.load(bias + neuron, mask=valid, other=0.0)
    current = tl.zeros([BLOCK], dtype=a.dtype)
    voltage = v_rest
    if IS_LIF:
        v_threshold = tl.load(threshold + neuron, mask=valid, other=0.0)
        v_reset = tl.load(reset + neuron, mask=valid, other=0.0)
    for step in range(steps):
        here = (trial * steps + step) * n + neuron
        current = b * current + tl.load(arrivals + here, mask=valid, other=0.0, volatile=HAS_RECURRENCE)
        drive = v_rest + scale * current + drive_bias
        voltage = a * voltage + (1.0 - a) * drive
        if IS_LIF:
            fired = (voltage >= v_threshold) & valid
            tl.store(spikes + here, fired.to(tl.int8), mask=valid)
            tl.store(arrivals + here, drive, mask=fired)
            voltage = tl.where(fired, v_reset, voltage)
            if HAS_RECURRENCE:
                flags = fired.to(tl.int32)
                position = tl.cumsum(flags, 0) - 1
                for s in range(tl.sum(flags, axis=0)):
                    i = _spike_slot(fired, position, neuron, s).to(tl.int64)
                    w = tl.load(rec_weights + i * n + neuron, mask=valid, other=0.0)
                    arrival = step + 1 + tl.load(rec_delays + i * n + neuron, mask=valid, other=0)
                    tl.atomic_add(arrivals + (trial * steps + arrival) * n + neuron, w, mask=valid & (arrival < steps))
                tl.debug_barrier()
        else:
            tl.store(trace + here, voltage, mask=valid)


@triton.jit
def neuron_adjoint(
    spikes,
    drive,
    readout_grad,
    count_grad,
    time_effect,
    adj_i,
    shift,
    alpha,
    beta,
    i_scale,
    threshold,
    reset,
    rec_weights,
    rec_delays,
    steps,
    n,
    IS_LIF: tl.constexpr,
    HAS_RECURRENCE: tl.constexpr,
    BLOCK: tl.constexpr,
):
    """The adjoint pass of one block, backwards over all steps, one program per trial (grid ``(B,)``).

    LIF blocks: spikes ``[B, T, n]`` int8, drive ``[B, T, n]`` (u at each spike), count_grad
    ``[B, n]`` (dL/dcount, injected at every spike), time_effect ``[B, T, n]`` (each spike's
    ``dL/dt`` through the block's outgoing external projections, in steps). Leaky integrators:
    readout_grad ``[B, T, n]`` (dL/dV of the trace). Outputs ``adj_i``, ``shift`` ``[B, T + 1, n]``:
    a_i and the arrival-time sensitivity per step; row T must hold the values for arrivals just past
    the trial (a_i = 0; shift = -shift_v * dL/dV[T-1] for leaky integrators, else 0).
    """
    trial = tl.program_id(0).to(tl.int64)
    neuron = tl.arange(0, BLOCK)
    valid = neuron < n
    a = tl.load(alpha + neuron, mask=valid, other=0.0)
    b = tl.load(beta + neuron, mask=valid, other=1.0)
    scale = tl.load(i_scale + neuron, mask=valid, other=0.0)
    gain = (1.0 - a) * scale
    shift_i = 0.5 * (1.0 - b) * (1.0 + 1.0 / b)
    shift_v = 0.5 * (1.0 - a) * scale
    weight_v = a + 1.0 / b
    adj_v_next = tl.zeros([BLOCK], dtype=a.dtype)
    adj_i_next = tl.zeros([BLOCK], dtype=a.dtype)
    if IS_LIF:
        v_threshold = tl.load(threshold + neuron, mask=valid, other=0.0)
        v_reset = tl.load(reset + neuron, mask=valid, other=0.0)
        injected = tl.load(count_grad + trial * n + neuron, mask=valid, other=0.0)
    for back in range(steps):
        step = steps - 1 - back
        here = (trial * steps + step) * n + neuron
        carried = a * adj_v_next
        if IS_LIF:
            fired = (tl.load(spikes + here, mask=valid, other=0) != 0) & valid
            effect = tl.load(time_effect + here, mask=fired, other=0.0)
            if HAS_RECURRENCE:
                flags = fired.to(tl.int32)
                position = tl.cumsum(flags, 0) - 1
                for s in range(tl.sum(flags, axis=0)):
                    i = _spike_slot(fired, position, neuron, s)
                    w = tl.load(rec_weights + i.to(tl.int64) * n + neuron, mask=valid, other=0.0)
                    arrival = step + 1 + tl.load(rec_delays + i.to(tl.int64) * n + neuron, mask=valid, other=0)
                    arrived = tl.load(
                        shift + (trial * (steps + 1) + arrival) * n + neuron,
                        mask=valid & (arrival <= steps),
                        other=0.0,
                        volatile=True,
                    )
                    effect = tl.where(neuron == i, effect + tl.sum(w * arrived, axis=0), effect)
            u = tl.load(drive + here, mask=fired, other=0.0)
            slope_before = (1.0 - a) * (u - v_threshold)
            slope_after = (1.0 - a) * (u - v_reset)
            jumped = -(effect - carried * slope_after) / tl.where(fired, slope_before, 1.0) + injected
            adj_v = tl.where(fired, jumped, carried)
            shift_term = weight_v * adj_v
        else:
            adj_v = carried + tl.load(readout_grad + here, mask=valid, other=0.0)
            previous = tl.load(readout_grad + here - n, mask=valid & (neuron * 0 + step > 0), other=0.0)
            shift_term = weight_v * adj_v + previous
        adj_i_now = gain * adj_v + b * adj_i_next
        out = (trial * (steps + 1) + step) * n + neuron
        tl.store(shift + out, shift_i * adj_i_now - shift_v * shift_term, mask=valid)
        tl.store(adj_i + out, adj_i_now, mask=valid)
        if HAS_RECURRENCE:
            tl.debug_barrier()
        adj_v_next = adj_v
        adj_i_next = adj_i_now


@triton.jit
def gather_gradients(
    spikes,
    weights,
    delays,
    adj_i,
    shift,
    weight_grad,
    delay_grad,
    time_effect,
    steps,
    rows,
    n_pre,
    n_post,
    post_columns,
    post_offset,
    pre_columns,
    pre_offset,
    WITH_TIME_EFFECT: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK_PRE: tl.constexpr,
    BLOCK_POST: tl.constexpr,
):
    """Per spike (b, k, i) of the pre population: ``dL/dw_ij += a_i_j[k + 1 + d_ij]``,
    ``dL/dd_ij += w_ij * shift_j[k + 1 + d_ij]`` (per step of delay) and, with ``WITH_TIME_EFFECT``,
    ``time_effect[b, k, pre_offset + i] += sum_j w_ij * shift_j[k + 1 + d_ij]``.

    spikes ``[B, T, n_pre]``; weights / delays ``[n_pre, n_post]``; adj_i / shift
    ``[B, T + 1, post_columns]`` (arrivals past step T read 0); weight_grad / delay_grad
    ``[n_pre, n_post]`` accumulated atomically; time_effect ``[B, T, pre_columns]``. Each program
    takes ``ROWS`` consecutive ``(b, k)`` rows: grid ``(ceil(B * T / ROWS),)``.
    """
    first_row = tl.program_id(0).to(tl.int64) * ROWS
    fired, position, flat = _row_spikes(spikes, first_row, rows, n_pre, ROWS, BLOCK_PRE)
    post = tl.arange(0, BLOCK_POST)
    post_valid = post < n_post
    for s in range(tl.sum(fired.to(tl.int32), axis=0)):
        row, i, w, arrival = _outgoing(
            fired, position, flat, s, first_row, steps, weights, delays, n_post, post, post_valid, BLOCK_PRE
        )
        inside = post_valid & (arrival <= steps)
        at = ((row // steps) * (steps + 1) + arrival) * post_columns + post_offset + post
        arrived_i = tl.load(adj_i + at, mask=inside, other=0.0)
        weighted_shift = w * tl.load(shift + at, mask=inside, other=0.0)
        tl.atomic_add(weight_grad + i * n_post + post, arrived_i, mask=post_valid)
        tl.atomic_add(delay_grad + i * n_post + post, weighted_shift, mask=post_valid)
        if WITH_TIME_EFFECT:
            target = time_effect + row * pre_columns + pre_offset + i
            tl.store(target, tl.load(target) + tl.sum(weighted_shift, axis=0))
