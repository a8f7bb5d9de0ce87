"""The static plan of the device path: population blocks in dependency order.

Every connection has a latency of at least one step, so a population's whole spike train can be
computed before any population it feeds is simulated, unless the two lie on a common loop. The plan
therefore groups the neuron populations into *blocks*, the strongly connected components of the
projection graph (a lone population, a self-recurrent one, or several populations on a loop,
concatenated neuron by neuron), and orders the blocks so that every projection between blocks
points forward. A block is simulated by one time-persistent kernel; projections inside it are
delivered in that kernel's loop, projections into it are delivered before it runs, for the whole
trial at once.

The plan depends only on the topology and the per-neuron constants, so it is built once per
:class:`~neurodelay.engine.layout.CompiledNetwork` and reused by every batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import networkx as nx
import torch

from ..errors import ValidationError
from .layout import CompiledNetwork, Connection, NeuronGroup

MAX_BLOCK_NEURONS = 16384
"""Largest block one kernel program holds in registers (the block's neurons are one vector)."""


@dataclass(frozen=True)
class Block:
    """One or more populations simulated together, their neurons concatenated in ``groups`` order.

    offsets: ``{population: first column in the block}``; constants: ``{name: [size]}`` tensors
    (alpha, beta, i_scale, rest, bias, threshold, reset; threshold/reset only for LIF blocks);
    internal: the projections with both ends inside the block (delivered inside the kernel).
    """

    groups: tuple[NeuronGroup, ...]
    offsets: dict[str, int]
    size: int
    is_lif: bool
    constants: dict[str, torch.Tensor]
    internal: tuple[Connection, ...]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def columns(self, name: str) -> slice:
        """Population ``name``'s neurons among the block's."""
        size = next(g.size for g in self.groups if g.name == name)
        return slice(self.offsets[name], self.offsets[name] + size)


@dataclass(frozen=True)
class DevicePlan:
    """Blocks in an order where every projection between blocks points forward; ``block_of``:
    population -> its block's index; ``incoming``: per block, the projections entering it from a
    spike source or an earlier block."""

    compiled: CompiledNetwork
    blocks: tuple[Block, ...]
    block_of: dict[str, int]
    incoming: tuple[tuple[Connection, ...], ...]


def device_plan(compiled: CompiledNetwork) -> DevicePlan:
    """Group ``compiled``'s populations into blocks (see the module docstring).

    Raises :class:`ValidationError` when a loop mixes spiking and leaky-integrator populations (a
    leaky integrator never spikes, so this cannot happen in a valid IR network), when two projections
    inside one block connect the same pair of populations (their synapses would share one matrix
    entry), or when a block exceeds :data:`MAX_BLOCK_NEURONS`.
    """
    graph = nx.DiGraph()
    graph.add_nodes_from(g.name for g in compiled.groups)
    graph.add_edges_from((c.pre, c.post) for c in compiled.connections if c.pre not in compiled.sources)
    condensed = nx.condensation(graph)
    order = {g.name: g.index for g in compiled.groups}
    blocks, block_of = [], {}
    for component in nx.topological_sort(condensed):
        members = sorted(condensed.nodes[component]["members"], key=order.__getitem__)
        groups = tuple(compiled.group(name) for name in members)
        if len({g.is_lif for g in groups}) != 1:
            raise ValidationError(
                "network.projections",
                f"a loop through {members} mixes LIF and leaky-integrator populations",
                "loops through LIF populations only",
            )
        for name in members:
            block_of[name] = len(blocks)
        blocks.append(_block(groups, compiled))
    incoming = tuple(
        tuple(
            c
            for c in compiled.connections
            if block_of[c.post] == index and (c.pre in compiled.sources or block_of[c.pre] != index)
        )
        for index in range(len(blocks))
    )
    return DevicePlan(compiled, tuple(blocks), block_of, incoming)


def _block(groups: tuple[NeuronGroup, ...], compiled: CompiledNetwork) -> Block:
    names = {g.name for g in groups}
    offsets, size = {}, 0
    for group in groups:
        offsets[group.name] = size
        size += group.size
    if size > MAX_BLOCK_NEURONS:
        raise ValidationError(
            "network.populations",
            f"{size} neurons in the block {sorted(names)} (populations on one loop are simulated together)",
            f"at most {MAX_BLOCK_NEURONS} neurons per block on the device path",
        )
    internal = tuple(c for c in compiled.connections if c.pre in names and c.post in names)
    pairs = [(c.pre, c.post) for c in internal]
    if len(set(pairs)) != len(pairs):
        raise ValidationError(
            "network.projections",
            f"two projections inside the loop {sorted(names)} connect the same pair of populations",
            "at most one per pair on the device path (or run on the CPU engine)",
        )
    is_lif = groups[0].is_lif
    fields = ["alpha", "beta", "i_scale", "rest", "bias"] + (["threshold", "reset"] if is_lif else [])
    constants = {f: torch.cat([getattr(g, f) for g in groups]).contiguous() for f in fields}
    return Block(groups, offsets, size, is_lif, constants, internal)
