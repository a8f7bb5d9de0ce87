"""Delay buckets: per-synapse delays split into a whole-bucket part and a residual below S steps.

Why: a ring buffer of ``D + 1`` slots per post population makes every spike scatter its synapses
across ``[batch, D + 1, n_post]`` values. Once that ring outgrows the caches (D of a few hundred
steps at batch 32), each delivery is a cache miss and the cost per step grows with D. Here every
integer delay is written ``d = q * S + r`` (``0 <= r < S``, S the post population's bucket width):
a spike of step k reaches its bucket-q synapses at step ``k + q * S``, read back from the spike log,
and those then deliver through residual delays r into a ring of only S steps
(:class:`~neurodelay.engine.ring.MirroredRing`), which stays cache-resident whatever D. Each synapse
is still visited once per spike, and the arrival step is ``k + q * S + 1 + r = k + 1 + d`` exactly.

A projection's existing synapses are grouped into rows ``(q, i)`` (bucket, pre neuron), and each
row is cut into chunks of ``width`` synapses (the last chunk padded), so that the synapses a step
delivers are a set of whole chunks, gathered as ``[chunks, width]`` blocks with no per-synapse
bookkeeping. The width trades padding (at most ``width - 1`` entries per non-empty row) against the
cost per chunk (:func:`chunk_width`): rows of equal length (dense, one bucket) get one chunk each,
and then a step's chunks are simply its spiking neurons (``BucketTable.direct``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .spike_log import SpikeLog, ragged_arange

CHUNK_COST = 16
"""The cost of one chunk beyond its entries, in entries: torch's row-wise kernels (row gathers,
row-wise accumulation) pay per row as well as per value. The chunk width minimises
``chunks * (width + CHUNK_COST)`` over the projection's rows (:func:`chunk_width`)."""


@dataclass
class BucketTable:
    """One projection's existing synapses in chunks of ``width``, rows ``(q, i)`` in q-major order.

    packed: ``[chunks, 2, width]`` integers of the weight dtype's size: ``[:, 0]`` the ring offset
        ``r * n_post + j`` (padding 0), ``[:, 1]`` the weight's bits (padding 0.0), so that one row
        gather (one cache miss per chunk) fetches both; read them with :meth:`rows`.
    synapse: ``[chunks, width]`` int64, ``i * n_post + j``; padding ``n_pre * n_post`` (a spare
        accumulator slot, so that gradients never need a mask).
    first_chunk, chunk_count: ``[buckets * n_pre]`` int64: the chunks of row ``(q, i)`` are
        ``first_chunk[q * n_pre + i] ...`` (``chunk_count`` of them).
    direct: one bucket and exactly one chunk per pre neuron, so that chunk i is pre neuron i's.
    """

    n_pre: int
    n_post: int
    bucket_steps: int
    buckets: int
    width: int
    packed: torch.Tensor
    synapse: torch.Tensor
    first_chunk: torch.Tensor
    chunk_count: torch.Tensor
    dtype: torch.dtype
    direct: bool

    @property
    def chunks(self) -> int:
        return self.packed.shape[0]

    def rows(self, chunk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(ring_offset [M, width] int, weight [M, width])`` of the chunks ``chunk [M]``."""
        rows = self.packed.index_select(0, chunk)
        return rows[:, 0], rows[:, 1].view(self.dtype)


def bucket_table(
    weight: torch.Tensor, delay: torch.Tensor, mask: torch.Tensor | None, max_delay_steps: int, bucket_steps: int
) -> BucketTable:
    """Build the table of one projection.

    weight: ``[n_pre, n_post]`` float; delay: ``[n_pre, n_post]`` int64 in ``[0, max_delay_steps]``;
    mask: ``[n_pre, n_post]`` bool or None (dense); bucket_steps: S of the post population.
    """
    n_pre, n_post = weight.shape
    device = weight.device
    buckets = max_delay_steps // bucket_steps + 1
    exists = torch.ones(n_pre, n_post, dtype=torch.bool, device=device) if mask is None else mask
    pre, post = torch.nonzero(exists, as_tuple=True)  # row-major: j ascending per i
    d = delay[pre, post]
    q = torch.div(d, bucket_steps, rounding_mode="floor")
    row = q * n_pre + pre
    row, order = torch.sort(row, stable=True)
    pre, post, residual = pre[order], post[order], (d - q * bucket_steps)[order]
    rows = buckets * n_pre
    counts = torch.bincount(row, minlength=rows)
    width = chunk_width(counts)
    rank = torch.arange(len(row), device=device) - (torch.cumsum(counts, 0) - counts)[row]
    chunk_count = torch.div(counts + width - 1, width, rounding_mode="floor")
    first_chunk = torch.cumsum(chunk_count, 0) - chunk_count
    chunks = int(chunk_count.sum())
    place = (first_chunk[row] + torch.div(rank, width, rounding_mode="floor")) * width + rank % width

    def filled(values: torch.Tensor, padding) -> torch.Tensor:
        table = torch.full((chunks * width,), padding, dtype=values.dtype, device=device)
        table[place] = values
        return table.view(chunks, width)

    integer = {2: torch.int16, 4: torch.int32, 8: torch.int64}[weight.element_size()]
    packed = torch.stack(
        (filled((residual * n_post + post).to(integer), 0), filled(weight[pre, post], 0.0).view(integer)), 1
    )
    return BucketTable(
        n_pre,
        n_post,
        bucket_steps,
        buckets,
        width,
        packed,
        synapse=filled(pre * n_post + post, n_pre * n_post),
        first_chunk=first_chunk,
        chunk_count=chunk_count,
        dtype=weight.dtype,
        direct=buckets == 1 and bool((chunk_count == 1).all()),
    )


def chunk_width(counts: torch.Tensor) -> int:
    """The width (a power of two or the longest row) minimising ``sum ceil(c / w) * (w + CHUNK_COST)``
    over the row lengths ``counts`` ``[rows]``."""
    longest = max(1, int(counts.max()) if counts.numel() else 1)
    candidates = sorted({longest} | {2**k for k in range(int(math.log2(longest)) + 1)})
    costs = [int(((counts + w - 1) // w).sum()) * (w + CHUNK_COST) for w in candidates]
    return candidates[costs.index(min(costs))]


def chunks_of_rows(table: BucketTable, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Every chunk of the rows ``rows [K]`` (``q * n_pre + i``): ``(chunk index [M], owner [M])``,
    owner the position in ``rows`` each chunk comes from."""
    counts = table.chunk_count.index_select(0, rows)
    return ragged_arange(table.first_chunk.index_select(0, rows), counts, int(counts.sum()))


def chunks_due(table: BucketTable, log: SpikeLog, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The chunks that deliver at ``step``: bucket q of every spike of step ``step - q * S``.

    ``log``: the pre population's spikes up to ``step`` at least. Returns ``(chunk index [M],
    spike id [M], batch index [M])`` (the spike each chunk belongs to and its trial), or None when
    nothing is due. The synapses of chunk m arrive at ``step + 1 + r``, r from its ring offsets.
    """
    s = table.bucket_steps
    pieces = [
        (q, log.offsets[k], log.offsets[k + 1])
        for q, k in enumerate(range(step, max(step - table.buckets * s, -1), -s))
        if log.offsets[k + 1] > log.offsets[k]
    ]
    if not pieces:
        return None
    if len(pieces) == 1:  # spikes of one step: contiguous ids, no ragged gather
        q, start, end = pieces[0]
        spike = torch.arange(start, end, device=log.device)
        if table.direct:
            return log.neuron_index[start:end], spike, log.batch_index[start:end]
        rows = log.neuron_index[start:end] + q * table.n_pre
    else:
        spike, piece = ragged_arange(
            torch.tensor([p[1] for p in pieces], device=log.device),
            torch.tensor([p[2] - p[1] for p in pieces], device=log.device),
            sum(p[2] - p[1] for p in pieces),
        )
        bucket = torch.tensor([p[0] for p in pieces], device=log.device).index_select(0, piece)
        rows = bucket * table.n_pre + log.neuron_index.index_select(0, spike)
    chunk, owner = chunks_of_rows(table, rows)
    if not chunk.numel():
        return None
    spike = spike.index_select(0, owner)
    return chunk, spike, log.batch_index.index_select(0, spike)


@dataclass
class ChunkSchedule:
    """Every chunk one projection delivers in a pass, sorted by the step it is due at: what
    :func:`chunks_due` returns step by step, computed at once for a complete spike log (a spike
    source in the forward pass, every population in the backward pass).

    chunk, spike, batch: ``[N]`` int64; the entries due at step n are ``offsets[n] ... offsets[n + 1]``.
    """

    chunk: torch.Tensor
    spike: torch.Tensor
    batch: torch.Tensor
    offsets: list[int]

    def at(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
        start, end = self.offsets[step], self.offsets[step + 1]
        if start == end:
            return None
        return self.chunk[start:end], self.spike[start:end], self.batch[start:end]


def chunk_schedule(table: BucketTable, log: SpikeLog, steps: int) -> ChunkSchedule:
    """The schedule of ``table``'s deliveries for the complete ``log`` over ``steps`` steps, in the
    order :func:`chunks_due` gives them (bucket, then spike id, then chunk, within a step)."""
    device = log.device
    spike_step = torch.repeat_interleave(
        torch.arange(log.steps, device=device), torch.tensor(log.offsets, device=device).diff(), output_size=log.total
    )
    bucket = torch.arange(table.buckets, device=device).repeat_interleave(log.total)
    spike = torch.arange(log.total, device=device).repeat(table.buckets)
    due = spike_step.repeat(table.buckets) + bucket * table.bucket_steps
    keep = due < steps
    bucket, spike, due = bucket[keep], spike[keep], due[keep]
    rows = bucket * table.n_pre + log.neuron_index.index_select(0, spike)
    chunk, owner = chunks_of_rows(table, rows)
    due, order = torch.sort(due.index_select(0, owner), stable=True)
    chunk, spike = chunk.index_select(0, order), spike.index_select(0, owner).index_select(0, order)
    offsets = [0] + torch.cumsum(torch.bincount(due, minlength=steps), 0).tolist()
    return ChunkSchedule(chunk, spike, log.batch_index.index_select(0, spike), offsets)
