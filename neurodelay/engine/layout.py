"""An IR :class:`~neurodelay.ir.Network` compiled into the tensors the engine's kernels use.

The compiled form holds only what does not change during training (per-neuron constants, topology,
masks, ring sizes); weights and delays are passed to the kernels separately, so that the same
compiled network serves every optimiser step.

Delays are split into buckets of ``bucket_steps`` (see :mod:`neurodelay.engine.buckets`): each
population's ring covers ``min(D + 1, bucket_steps)`` steps, D its largest incoming delay.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..errors import ValidationError
from ..ir import LIF, LeakyIntegrator, Network, as_vector, decays

DEFAULT_BUCKET_STEPS = 32
"""Largest ring per population, in steps: 32 steps x 256 neurons x batch 32 in float32, mirrored,
is 2 MiB, about one core's L2 cache; 32 and 64 measured alike on the delay benchmark."""


@dataclass(frozen=True)
class NeuronGroup:
    """Constants of one LIF or leaky-integrator population, as ``[size]`` tensors.

    alpha = exp(-dt/tau_m), beta = exp(-dt/tau_syn), i_scale = (tau_syn/dt)(1 - beta) (no unit);
    rest, bias, threshold, reset in the network's voltage unit (threshold/reset: LIF only, else None).
    bucket_steps: S, at most the compiled bucket width (:func:`balanced_bucket_steps`): the
        population's ring covers S steps and its incoming delays are split into buckets of S.
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
    bucket_steps: int


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
    bucket_steps: int
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
            raise ValidationError(
                f"populations[{index}].refractory_steps",
                f"{population.refractory_steps} (population {population.name!r}); the "
                "engine trains LIF neurons without a refractory period",
                "0",
            )


def check_decays_representable(network: Network, population: LIF | LeakyIntegrator, dtype: torch.dtype) -> None:
    """Reject a population whose decay exp(-dt/tau) is below the smallest normal number of ``dtype``.

    Such a decay rounds to zero (or a subnormal) in ``dtype`` and the delay gradients, which divide
    by it through the adjoint's time reversal, become NaN: float32 needs dt/tau <= 87.3, float64
    <= 708.3. A :class:`ValidationError` names the population and the time constant.
    """
    largest_ratio = -float(np.log(torch.finfo(dtype).tiny))
    index = next(i for i, p in enumerate(network.populations) if p.name == population.name)
    for field in ("tau_m_ms", "tau_syn_ms"):
        tau = np.asarray(getattr(population, field), np.float64)
        ratio = float(np.max(network.dt_ms / tau))
        if not ratio <= largest_ratio:
            raise ValidationError(
                f"populations[{index}].{field}",
                f"{float(np.min(tau)):.4g} ms (population {population.name!r}; dt_ms / tau = {ratio:.4g}: "
                f"exp(-dt/tau) underflows {str(dtype).removeprefix('torch.')})",
                f">= dt_ms / {largest_ratio:.4g} = {network.dt_ms / largest_ratio:.4g} ms",
            )


def compile_network(
    network: Network,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    bucket_steps: int = DEFAULT_BUCKET_STEPS,
) -> CompiledNetwork:
    """Compile ``network`` for the engine on ``device`` (default CPU) in ``dtype``; ``bucket_steps``:
    the largest ring per population in steps (any value >= 1 gives the same results)."""
    check_trainable(network)
    if bucket_steps < 1:
        raise ValidationError("bucket_steps", f"{bucket_steps}", "an integer >= 1")
    device = torch.device("cpu" if device is None else device)

    def tensor(values: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.asarray(values, np.float64), dtype=dtype, device=device)

    groups = []
    for population in network.neurons():
        check_decays_representable(network, population, dtype)
        alpha, beta, i_scale = decays(population, network.dt_ms)
        size = population.size
        incoming = network.incoming(population.name)
        is_lif = isinstance(population, LIF)
        groups.append(
            NeuronGroup(
                name=population.name,
                index=len(groups),
                size=size,
                is_lif=is_lif,
                alpha=tensor(alpha),
                beta=tensor(beta),
                i_scale=tensor(i_scale),
                rest=tensor(as_vector(population.rest, size)),
                bias=tensor(as_vector(population.bias, size)),
                threshold=tensor(as_vector(population.threshold, size)) if is_lif else None,
                reset=tensor(as_vector(population.reset, size)) if is_lif else None,
                bucket_steps=balanced_bucket_steps(
                    1 + max((p.max_delay_steps for p in incoming), default=0), bucket_steps
                ),
            )
        )
    connections = tuple(
        Connection(
            p.name,
            p.pre,
            p.post,
            p.weights.shape[0],
            p.weights.shape[1],
            p.max_delay_steps,
            None if p.mask is None else torch.as_tensor(p.mask, device=device),
        )
        for p in network.projections
    )
    sources = network.sources()
    return CompiledNetwork(
        network,
        tuple(s.name for s in sources),
        {s.name: s.size for s in sources},
        tuple(groups),
        connections,
        bucket_steps,
        device,
        dtype,
    )


def balanced_bucket_steps(delay_values: int, largest: int) -> int:
    """The bucket width S <= ``largest`` that splits ``delay_values`` (D + 1) delays into the fewest
    buckets, as equal as possible: ``ceil(delay_values / ceil(delay_values / largest))``."""
    buckets = -(-delay_values // largest)
    return -(-delay_values // buckets)


def integer_delays(delays_steps: torch.Tensor, max_delay_steps: int) -> torch.Tensor:
    """``floor(d + 0.5)`` clamped to ``[0, max_delay_steps]`` as int64 (C ``round`` for d >= 0)."""
    return torch.clamp(torch.floor(delays_steps + 0.5), 0, max_delay_steps).to(torch.int64)


def source_tensors(compiled: CompiledNetwork, inputs, dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
    """Spike inputs as ``{source: [batch, steps, size]}`` tensors of 0/1 in ``dtype`` (default: the
    compiled dtype; the device path takes int8, a quarter of float32's memory).

    ``inputs``: one ``[batch, steps, size]`` tensor/array (single source) or a mapping per source.
    """
    if not isinstance(inputs, dict):
        if len(compiled.sources) != 1:
            raise ValidationError(
                "inputs",
                f"one array given but the network has {len(compiled.sources)} spike sources",
                "a mapping {source name: [batch, steps, size]}",
            )
        inputs = {compiled.sources[0]: inputs}
    if set(inputs) != set(compiled.sources):
        raise ValidationError(
            "inputs", f"sources {sorted(inputs)} do not match the network's", f"exactly {sorted(compiled.sources)}"
        )
    result, shape = {}, None
    for name, values in inputs.items():
        values = torch.as_tensor(values, device=compiled.device)
        size = compiled.source_sizes[name]
        if values.dim() != 3 or values.shape[2] != size:
            raise ValidationError(f"inputs[{name}]", f"shape {list(values.shape)}", f"[batch, steps, {size}]")
        if shape is not None and values.shape[:2] != shape:
            raise ValidationError(
                f"inputs[{name}]",
                f"batch/steps {tuple(values.shape[:2])} differ from {tuple(shape)}",
                "the same [batch, steps] for every source",
            )
        shape = values.shape[:2]
        # bool inputs are 0/1 by type: checking them would only cost a host synchronisation on a GPU
        if values.dtype != torch.bool and not bool(((values == 0) | (values == 1)).all()):
            raise ValidationError(f"inputs[{name}]", "values other than 0 and 1", "spikes as 0/1 or bool")
        result[name] = values.to(compiled.dtype if dtype is None else dtype)
    return result
