"""The device path of the engine: forward and adjoint passes as a fixed sequence of Triton launches.

Same mathematics as the torch engine (:mod:`neurodelay.engine.forward`, :mod:`neurodelay.engine.adjoint`;
derivation in ``docs/engine.md``), organised for a GPU (``docs/gpu.md``):

forward, blocks in plan order (:mod:`neurodelay.engine.device_plan`):
    arrivals [B, T, n] = 0; every projection entering the block delivers all its pre spikes of the
    trial (:func:`~neurodelay.engine.triton_kernels.deliver_spikes`); then one time-persistent
    kernel per block runs the neuron dynamics and the block's internal projections.
backward, blocks in reverse order:
    one time-persistent adjoint kernel per block (it needs each spike's time effect through the
    block's outgoing projections, complete because every later block is done), then for every
    projection into the block one gather launch: weight and delay gradients, and the time effect of
    the pre spikes of an earlier block.

A training step therefore costs a number of launches fixed by the network's topology, and the host
never waits for the device: no spike count, offset or loss value is read back (a test counts the
host synchronisations, :mod:`neurodelay.engine.host_sync`). The price is memory: dense
``[batch, steps, n]`` arrays per block (arrivals, spikes, adjoints) instead of the torch engine's
spike logs and small rings.

Float atomics make the order of additions vary from run to run on a GPU: results equal the torch
engine's to rounding (float64: spikes identical, values to ~1e-12; float32: see ``docs/gpu.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import host_sync
from .device_plan import Block, DevicePlan
from .layout import CompiledNetwork, Connection, integer_delays


def _kernels():
    from . import triton_kernels  # imported on first use: triton is only needed on this path

    return triton_kernels


def _block_width(size: int) -> int:
    return max(16, 1 << max(0, size - 1).bit_length())


def _warps(width: int) -> int:
    return max(1, min(8, width // 128))


def _rows_per_program(n_pre: int) -> int:
    """(b, k) rows per program of the spike kernels: about 2048 spike flags per program."""
    return max(1, min(64, 2048 // _block_width(n_pre)))


@dataclass
class DeviceTape:
    """What the adjoint pass needs from the forward pass.

    spikes: ``{population or source: [B, T, n]}`` (int8 for LIF populations, the inputs for sources);
    block_spikes / drive: per LIF block ``[B, T, n_block]`` (drive: u at each spike);
    synapses: ``{projection: (weights [n_pre, n_post] with 0 at absent synapses, delays int32)}``;
    recurrent: per block ``(weights [n, n], delays [n, n] int32)`` of its internal projections, or None.
    """

    batch: int
    steps: int
    spikes: dict[str, torch.Tensor]
    block_spikes: dict[int, torch.Tensor]
    drive: dict[int, torch.Tensor]
    synapses: dict[str, tuple[torch.Tensor, torch.Tensor]]
    recurrent: dict[int, tuple[torch.Tensor, torch.Tensor] | None]


def _synapses(
    compiled: CompiledNetwork, weights: dict[str, torch.Tensor], delays_steps: dict[str, torch.Tensor]
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    result = {}
    for c in compiled.connections:
        w = weights[c.name].detach()
        if c.mask is not None:
            w = w * c.mask
        result[c.name] = (
            w.contiguous(),
            integer_delays(delays_steps[c.name].detach(), c.max_delay_steps).to(torch.int32).contiguous(),
        )
    return result


def _recurrent(block: Block, synapses, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    if not block.internal:
        return None
    weights = torch.zeros(block.size, block.size, dtype=like.dtype, device=like.device)
    delays = torch.zeros(block.size, block.size, dtype=torch.int32, device=like.device)
    for c in block.internal:
        weights[block.columns(c.pre), block.columns(c.post)], delays[block.columns(c.pre), block.columns(c.post)] = (
            synapses[c.name]
        )
    return weights, delays


def forward(
    plan: DevicePlan,
    sources: dict[str, torch.Tensor],
    weights: dict[str, torch.Tensor],
    delays_steps: dict[str, torch.Tensor],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], DeviceTape]:
    """``(readout traces {LI population: [B, T, n]}, spike counts {LIF population: [B, n]}, tape)``.

    sources: ``{source: [B, T, n]}`` 0/1 in any dtype (int8 saves memory);
    weights / delays_steps: ``{projection: [n_pre, n_post]}``
    (delays float steps, used as ``floor(d + 0.5)`` clamped to ``[0, max_delay_steps]``).
    """
    kernels = _kernels()
    compiled = plan.compiled
    batch, steps = next(iter(sources.values())).shape[:2]
    device, dtype = compiled.device, compiled.dtype
    synapses = _synapses(compiled, weights, delays_steps)
    spikes = {name: values.contiguous() for name, values in sources.items()}
    tape = DeviceTape(batch, steps, spikes, {}, {}, synapses, {})
    readouts, counts = {}, {}
    rows = batch * steps
    for index, block in enumerate(plan.blocks):
        arrivals = torch.zeros(batch, steps, block.size, device=device, dtype=dtype)
        for c in plan.incoming[index]:
            w, d = synapses[c.name]
            if rows:
                per_program = _rows_per_program(c.n_pre)
                host_sync.launch(
                    kernels.deliver_spikes,
                    (-(-rows // per_program),),
                    spikes[c.pre],
                    w,
                    d,
                    arrivals,
                    steps,
                    rows,
                    c.n_pre,
                    c.n_post,
                    block.size,
                    block.offsets[c.post],
                    ROWS=per_program,
                    BLOCK_PRE=_block_width(c.n_pre),
                    BLOCK_POST=_block_width(c.n_post),
                    num_warps=_warps(_block_width(c.n_post)),
                )
        recurrent = _recurrent(block, synapses, arrivals)
        tape.recurrent[index] = recurrent
        rec_w, rec_d = recurrent if recurrent is not None else (arrivals, arrivals)
        block_spikes = torch.zeros(batch, steps, block.size, device=device, dtype=torch.int8) if block.is_lif else None
        trace = None if block.is_lif else torch.empty(batch, steps, block.size, device=device, dtype=dtype)
        constants = block.constants
        width = _block_width(block.size)
        if batch and steps:
            host_sync.launch(
                kernels.neuron_forward,
                (batch,),
                arrivals,
                block_spikes if block.is_lif else arrivals,
                trace if trace is not None else arrivals,
                constants["alpha"],
                constants["beta"],
                constants["i_scale"],
                constants["rest"],
                constants["bias"],
                constants.get("threshold", constants["rest"]),
                constants.get("reset", constants["rest"]),
                rec_w,
                rec_d,
                steps,
                block.size,
                IS_LIF=block.is_lif,
                HAS_RECURRENCE=recurrent is not None,
                BLOCK=width,
                num_warps=_warps(width),
            )
        for group in block.groups:
            if block.is_lif:
                own = block_spikes[..., block.columns(group.name)].contiguous()
                spikes[group.name] = own
                counts[group.name] = own.sum(1, dtype=dtype)
            else:
                readouts[group.name] = trace[..., block.columns(group.name)]
        if block.is_lif:
            tape.block_spikes[index], tape.drive[index] = block_spikes, arrivals
    return readouts, counts, tape


def adjoint(
    plan: DevicePlan, tape: DeviceTape, readout_grads: dict[str, torch.Tensor], count_grads: dict[str, torch.Tensor]
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """``(weight_grads, delay_grads)`` ``{projection: [n_pre, n_post]}``, 0 at absent synapses.

    readout_grads: ``{LI population: dL/dV [B, T, n]}``; count_grads: ``{LIF population: dL/dcount [B, n]}``
    (missing entries count as 0).
    """
    kernels = _kernels()
    compiled = plan.compiled
    batch, steps = tape.batch, tape.steps
    device, dtype = compiled.device, compiled.dtype
    weight_grads = {c.name: torch.zeros(c.n_pre, c.n_post, device=device, dtype=dtype) for c in compiled.connections}
    delay_grads = {c.name: torch.zeros(c.n_pre, c.n_post, device=device, dtype=dtype) for c in compiled.connections}
    time_effect = {
        index: torch.zeros(batch, steps, block.size, device=device, dtype=dtype)
        for index, block in enumerate(plan.blocks)
        if block.is_lif
    }
    rows = batch * steps
    for index in range(len(plan.blocks) - 1, -1, -1):
        block = plan.blocks[index]
        constants = block.constants
        adj_i = torch.zeros(batch, steps + 1, block.size, device=device, dtype=dtype)
        shift = torch.zeros(batch, steps + 1, block.size, device=device, dtype=dtype)
        if block.is_lif:
            grad_v = adj_i
            injected = (
                torch.cat(
                    [
                        count_grads[g.name]
                        if count_grads.get(g.name) is not None
                        else torch.zeros(batch, g.size, device=device, dtype=dtype)
                        for g in block.groups
                    ],
                    1,
                )
                .to(dtype)
                .contiguous()
            )
        else:
            grad_v = (
                torch.cat(
                    [
                        readout_grads[g.name]
                        if readout_grads.get(g.name) is not None
                        else torch.zeros(batch, steps, g.size, device=device, dtype=dtype)
                        for g in block.groups
                    ],
                    2,
                )
                .to(dtype)
                .contiguous()
            )
            injected = grad_v
            if steps:
                shift_v = 0.5 * (1.0 - constants["alpha"]) * constants["i_scale"]
                shift[:, steps] = -shift_v * grad_v[:, steps - 1]
        recurrent = tape.recurrent[index]
        rec_w, rec_d = recurrent if recurrent is not None else (adj_i, adj_i)
        width = _block_width(block.size)
        if batch and steps:
            host_sync.launch(
                kernels.neuron_adjoint,
                (batch,),
                tape.block_spikes.get(index, adj_i),
                tape.drive.get(index, adj_i),
                grad_v,
                injected,
                time_effect.get(index, adj_i),
                adj_i,
                shift,
                constants["alpha"],
                constants["beta"],
                constants["i_scale"],
                constants.get("threshold", constants["alpha"]),
                constants.get("reset", constants["alpha"]),
                rec_w,
                rec_d,
                steps,
                block.size,
                IS_LIF=block.is_lif,
                HAS_RECURRENCE=recurrent is not None,
                BLOCK=width,
                num_warps=_warps(width),
            )
        for c in plan.incoming[index] + block.internal:
            _gather(kernels, plan, tape, c, block, adj_i, shift, weight_grads, delay_grads, time_effect, rows)
    for c in compiled.connections:
        if c.mask is not None:
            weight_grads[c.name].mul_(c.mask)
            delay_grads[c.name].mul_(c.mask)
    return weight_grads, delay_grads


def _gather(
    kernels,
    plan: DevicePlan,
    tape: DeviceTape,
    c: Connection,
    block: Block,
    adj_i: torch.Tensor,
    shift: torch.Tensor,
    weight_grads,
    delay_grads,
    time_effect,
    rows: int,
) -> None:
    if not rows:
        return
    w, d = tape.synapses[c.name]
    external_spiking = c.pre not in plan.compiled.sources and plan.block_of[c.pre] != plan.block_of[c.post]
    if external_spiking:
        pre_block_index = plan.block_of[c.pre]
        effect = time_effect[pre_block_index]
        pre_block = plan.blocks[pre_block_index]
        pre_columns, pre_offset = pre_block.size, pre_block.offsets[c.pre]
    else:
        effect, pre_columns, pre_offset = adj_i, 0, 0
    per_program = _rows_per_program(c.n_pre)
    host_sync.launch(
        kernels.gather_gradients,
        (-(-rows // per_program),),
        tape.spikes[c.pre],
        w,
        d,
        adj_i,
        shift,
        weight_grads[c.name],
        delay_grads[c.name],
        effect,
        tape.steps,
        rows,
        c.n_pre,
        c.n_post,
        block.size,
        block.offsets[c.post],
        pre_columns,
        pre_offset,
        WITH_TIME_EFFECT=external_spiking,
        ROWS=per_program,
        BLOCK_PRE=_block_width(c.n_pre),
        BLOCK_POST=_block_width(c.n_post),
        num_warps=_warps(_block_width(c.n_post)),
    )


class DeviceEventPropFunction(torch.autograd.Function):
    """The device path as an autograd function, with the interface of
    :class:`~neurodelay.engine.function.EventPropFunction` (``apply(plan, sources, *weights, *delays)``)."""

    @staticmethod
    def forward(ctx, plan: DevicePlan, sources: dict[str, torch.Tensor], *parameters: torch.Tensor):
        compiled = plan.compiled
        names = [c.name for c in compiled.connections]
        weights = dict(zip(names, parameters[: len(names)]))
        delays = dict(zip(names, parameters[len(names) :]))
        readouts, counts, tape = forward(plan, sources, weights, delays)
        ctx.plan, ctx.tape = plan, tape
        return (*(readouts[g.name] for g in compiled.readouts), *(counts[g.name] for g in compiled.spiking))

    @staticmethod
    def backward(ctx, *output_grads: torch.Tensor):
        compiled = ctx.plan.compiled
        readouts, spiking = compiled.readouts, compiled.spiking
        readout_grads = {g.name: grad for g, grad in zip(readouts, output_grads[: len(readouts)])}
        count_grads = {g.name: grad for g, grad in zip(spiking, output_grads[len(readouts) :])}
        weight_grads, delay_grads = adjoint(ctx.plan, ctx.tape, readout_grads, count_grads)
        ctx.tape = None
        names = [c.name for c in compiled.connections]
        return (None, None, *(weight_grads[n] for n in names), *(delay_grads[n] for n in names))
