"""An IR :class:`~neurodelay.ir.Network` compiled into the tensors the engine's kernels use.

The compiled form holds only what does not change during training (per-neuron constants, topology,
masks, ring sizes); weights and delays are passed to the kernels separately, so that the same
compiled network serves every optimiser step.

Ring layout (see :mod:`neurodelay.engine.ring`): post neurons are grouped in blocks of
``block_size`` and every per-synapse matrix is stored block-major, ``[n_blocks, n_pre, block_size]``
(post columns padded with zeros to ``n_blocks * block_size``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ValidationError
from ..ir import LIF, Network, as_vector, decays

DEFAULT_BLOCK_SIZE = 16
"""Post neurons per ring block: 16 float32 = one 64-byte cache line."""


@dataclass(frozen=True)
class NeuronGroup:
    """Constants of one LIF or leaky-integrator population, as ``[size]`` tensors.

    alpha = exp(-dt/tau_m), beta = exp(-dt/tau_syn), i_scale = (tau_syn/dt)(1 - beta) (no unit);
    rest, bias, threshold, reset in the network's voltage unit (threshold/reset: LIF only, else None).
    ring_slots: R = 1 + the largest ``max_delay_steps`` of the incoming projections.
    """

    name: str
    index: int
    size: int
    is_lif: bool
    alpha: torch.Tensor
    beta: torch.Tensor
    i_scale: torch.Tensor
    rest: torch.Tensor
    bias: torch.Tensor
    threshold: torch.Tensor | None
    reset: torch.Tensor | None
    ring_slots: int
    n_blocks: int

    def blocked(self, values: torch.Tensor, block_size: int) -> torch.Tensor:
        """A ``[size]`` vector as ``[n_blocks, 1, block_size]`` (padding 0), for block-major arithmetic."""
        padded = torch.nn.functional.pad(values, (0, self.n_blocks * block_size - self.size))
        return padded.view(self.n_blocks, 1, block_size)


@dataclass(frozen=True)
class Connection:
    """Topology of one projection: ``pre`` -> ``post``, its mask ``[n_pre, n_post]`` (None: dense)."""

    name: str
    pre: str
    post: str
    n_pre: int
    n_post: int
    max_delay_steps: int
    mask: torch.Tensor | None


@dataclass(frozen=True)
class CompiledNetwork:
    """Everything static about a network, on one device and dtype."""

    network: Network
    sources: tuple[str, ...]
    source_sizes: dict[str, int]
    groups: tuple[NeuronGroup, ...]
    connections: tuple[Connection, ...]
    block_size: int
    device: torch.device
    dtype: torch.dtype

    def group(self, name: str) -> NeuronGroup:
        return next(g for g in self.groups if g.name == name)

    @property
    def readouts(self) -> tuple[NeuronGroup, ...]:
        """The leaky-integrator populations, whose voltage traces are the engine's output."""
        return tuple(g for g in self.groups if not g.is_lif)

    @property
    def spiking(self) -> tuple[NeuronGroup, ...]:
        return tuple(g for g in self.groups if g.is_lif)


def check_trainable(network: Network) -> None:
    """Reject what the engine does not train: refractory LIF populations (``refractory_steps > 0``).

    The adjoint of a refractory period is not implemented; raise a :class:`ValidationError` that
    names the population instead of computing a wrong gradient.
    """
    for index, population in enumerate(network.populations):
        if isinstance(population, LIF) and population.refractory_steps > 0:
            raise ValidationError(f"populations[{index}].refractory_steps",
                                  f"{population.refractory_steps} (population {population.name!r}); the "
                                  "engine trains LIF neurons without a refractory period", "0")


def compile_network(network: Network, *, device: torch.device | str | None = None,
                    dtype: torch.dtype = torch.float32, block_size: int = DEFAULT_BLOCK_SIZE) -> CompiledNetwork:
    """Compile ``network`` for the engine on ``device`` (default CPU) in ``dtype``."""
    check_trainable(network)
    device = torch.device("cpu" if device is None else device)

    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, np.float64), dtype=dtype, device=device)

    groups = []
    for population in network.neurons():
        alpha, beta, i_scale = decays(population, network.dt_ms)
        size = population.size
        incoming = network.incoming(population.name)
        is_lif = isinstance(population, LIF)
        groups.append(NeuronGroup(
            name=population.name, index=len(groups), size=size, is_lif=is_lif,
            alpha=tensor(alpha), beta=tensor(beta), i_scale=tensor(i_scale),
            rest=tensor(as_vector(population.rest, size)), bias=tensor(as_vector(population.bias, size)),
            threshold=tensor(as_vector(population.threshold, size)) if is_lif else None,
            reset=tensor(as_vector(population.reset, size)) if is_lif else None,
            ring_slots=1 + max((p.max_delay_steps for p in incoming), default=0),
            n_blocks=-(-size // block_size)))
    connections = tuple(
        Connection(p.name, p.pre, p.post, p.weights.shape[0], p.weights.shape[1], p.max_delay_steps,
                   None if p.mask is None else torch.as_tensor(p.mask, device=device))
        for p in network.projections)
    sources = network.sources()
    return CompiledNetwork(network, tuple(s.name for s in sources), {s.name: s.size for s in sources},
                           tuple(groups), connections, block_size, device, dtype)


def integer_delays(delays_steps: torch.Tensor, max_delay_steps: int) -> torch.Tensor:
    """``floor(d + 0.5)`` clamped to ``[0, max_delay_steps]`` as int64 (C ``round`` for d >= 0)."""
    return torch.clamp(torch.floor(delays_steps + 0.5), 0, max_delay_steps).to(torch.int64)


def to_blocks(matrix: torch.Tensor, n_blocks: int, block_size: int) -> torch.Tensor:
    """``[n_pre, n_post]`` -> block-major ``[n_blocks, n_pre, block_size]`` (post columns padded with 0)."""
    n_pre, n_post = matrix.shape
    padded = torch.nn.functional.pad(matrix, (0, n_blocks * block_size - n_post))
    return padded.view(n_pre, n_blocks, block_size).permute(1, 0, 2).contiguous()


def source_tensors(compiled: CompiledNetwork, inputs) -> dict[str, torch.Tensor]:
    """Spike inputs as ``{source: [batch, steps, size]}`` tensors of 0/1 in the compiled dtype.

    ``inputs``: one ``[batch, steps, size]`` tensor/array (single source) or a mapping per source.
    """
    if not isinstance(inputs, dict):
        if len(compiled.sources) != 1:
            raise ValidationError("inputs", f"one array given but the network has {len(compiled.sources)} "
                                  "spike sources", "a mapping {source name: [batch, steps, size]}")
        inputs = {compiled.sources[0]: inputs}
    if set(inputs) != set(compiled.sources):
        raise ValidationError("inputs", f"sources {sorted(inputs)} do not match the network's",
                              f"exactly {sorted(compiled.sources)}")
    result, shape = {}, None
    for name, values in inputs.items():
        values = torch.as_tensor(values, device=compiled.device)
        size = compiled.source_sizes[name]
        if values.dim() != 3 or values.shape[2] != size:
            raise ValidationError(f"inputs[{name}]", f"shape {list(values.shape)}", f"[batch, steps, {size}]")
        if shape is not None and values.shape[:2] != shape:
            raise ValidationError(f"inputs[{name}]", f"batch/steps {tuple(values.shape[:2])} differ from "
                                  f"{tuple(shape)}", "the same [batch, steps] for every source")
        shape = values.shape[:2]
        values = values.to(compiled.dtype)
        if not bool(((values == 0) | (values == 1)).all()):
            raise ValidationError(f"inputs[{name}]", "values other than 0 and 1", "spikes as 0/1 or bool")
        result[name] = values
    return result
