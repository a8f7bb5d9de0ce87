"""The :class:`Network`: one object that flows through training, quantization, export and parity."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any, Iterator, Sequence

import networkx as nx
import numpy as np

from ..errors import ValidationError
from .nodes import LIF, LeakyIntegrator, Population, Projection, SpikeSource
from .validate import check_float, check_name, normalized_parts


@dataclass(frozen=True, eq=False)
class Network:
    """A spiking network: ordered populations, projections between them, and provenance.

    name: identifier of the network.
    dt_ms: simulation timestep in ms (> 0); delays are counted in these steps.
    populations: in declaration order; names are unique.
    projections: synapse groups; recurrent ones (pre == post) and cycles are allowed.
    provenance: free-form, YAML-serialisable record (training config, quantization report,
        software versions).

    Construction validates and normalises everything (arrays become float64 / int64 / bool);
    an invalid network raises :class:`~neurodelay.errors.ValidationError` naming the field.
    """

    name: str
    dt_ms: float
    populations: tuple[Population, ...]
    projections: tuple[Projection, ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_name(self.name, "name")
        dt = check_float(self.dt_ms, "dt_ms", "finite and > 0 ms", positive=True)
        if not isinstance(self.populations, (list, tuple)) or not self.populations:
            raise ValidationError("populations", "expected a non-empty list", "at least one population")
        if not isinstance(self.projections, (list, tuple)):
            raise ValidationError("projections", "expected a list", "a list of projections")
        if not isinstance(self.provenance, dict):
            raise ValidationError("provenance", "expected a mapping", "a dict")
        populations, projections = normalized_parts(self.populations, self.projections)
        object.__setattr__(self, "dt_ms", dt)
        object.__setattr__(self, "populations", populations)
        object.__setattr__(self, "projections", projections)

    def training_config(self) -> dict[str, Any] | None:
        """The config the network was trained with (``provenance.training.config``, as
        ``neurodelay train`` records it), or None when the provenance holds none; a record of
        another shape (a hand-edited file) raises ValidationError naming the field."""
        training = self.provenance.get("training")
        if training is None:
            return None
        config = training.get("config") if isinstance(training, dict) else training
        if config is None:
            return None
        if not isinstance(config, dict):
            raise ValidationError(
                "provenance.training.config",
                f"a {type(config).__name__} of another shape",
                "the training config mapping",
            )
        for section in ("data", "loss"):
            if not isinstance(config.get(section, {}), dict):
                raise ValidationError(f"provenance.training.config.{section}", "not a mapping", "a mapping")
        return config

    # ----- lookup -------------------------------------------------------------------------
    def population(self, name: str) -> Population:
        for population in self.populations:
            if population.name == name:
                return population
        raise KeyError(f"network {self.name!r} has no population {name!r}")

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(f"network {self.name!r} has no projection {name!r}")

    def sources(self) -> tuple[SpikeSource, ...]:
        return tuple(p for p in self.populations if isinstance(p, SpikeSource))

    def neurons(self) -> tuple[LIF | LeakyIntegrator, ...]:
        """Populations with dynamics (LIF and leaky integrators), in declaration order."""
        return tuple(p for p in self.populations if not isinstance(p, SpikeSource))

    def incoming(self, population: str) -> tuple[Projection, ...]:
        return tuple(p for p in self.projections if p.post == population)

    def outgoing(self, population: str) -> tuple[Projection, ...]:
        return tuple(p for p in self.projections if p.pre == population)

    @property
    def max_delay_steps(self) -> int:
        return max((p.max_delay_steps for p in self.projections), default=0)

    @property
    def is_quantized(self) -> bool:
        return bool(self.projections) and all(p.is_quantized for p in self.projections)

    def with_projections(self, projections: Sequence[Projection], **changes: Any) -> "Network":
        """A copy with new projections (and optionally other fields), validated again."""
        return replace(self, projections=tuple(projections), **changes)

    # ----- graph view ---------------------------------------------------------------------
    def graph(self) -> nx.MultiDiGraph:
        """Populations as nodes (attribute ``kind``, ``size``); one edge per projection (key = name).

        Edge attributes: ``synapses``, ``max_delay_steps``, ``recurrent``. A multigraph, because
        two projections may join the same pair of populations.
        """
        graph = nx.MultiDiGraph(name=self.name)
        for population in self.populations:
            graph.add_node(population.name, kind=population.kind, size=population.size)
        for projection in self.projections:
            graph.add_edge(
                projection.pre,
                projection.post,
                key=projection.name,
                synapses=projection.synapse_count,
                max_delay_steps=projection.max_delay_steps,
                recurrent=projection.is_recurrent,
            )
        return graph

    def recurrent_loops(self, limit: int | None = None) -> list[list[str]]:
        """Elementary cycles of populations (self-loops included), each as a sorted list of names,
        shortest first; at most ``limit`` of them (the first found) when ``limit`` is given. Dense
        graphs have exponentially many cycles (a complete graph of 13 populations about 10^9), so
        anything shown to a user passes a limit."""
        cycles = nx.simple_cycles(nx.DiGraph(self.graph()))
        return sorted((sorted(cycle) for cycle in itertools.islice(cycles, limit)), key=lambda c: (len(c), c))

    @property
    def is_recurrent(self) -> bool:
        return not nx.is_directed_acyclic_graph(nx.DiGraph(self.graph()))

    def iter_arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """Every array of the network with its storage key (used by the file format and reports)."""
        for population in self.populations:
            for name, value in vars(population).items():
                if isinstance(value, np.ndarray):
                    yield f"populations/{population.name}/{name}", value
        for projection in self.projections:
            for name in ("weights", "delays_steps", "mask", "integer_weights"):
                value = getattr(projection, name)
                if value is not None:
                    yield f"projections/{projection.name}/{name}", value


def decays(population: LIF | LeakyIntegrator, dt_ms: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(alpha, beta, i_scale)`` of the IR dynamics as float64 ``[size]`` arrays.

    alpha = exp(-dt/tau_m), beta = exp(-dt/tau_syn), i_scale = (tau_syn/dt) * (1 - beta).
    """
    size = population.size
    tau_m = np.broadcast_to(np.asarray(population.tau_m_ms, np.float64), (size,))
    tau_syn = np.broadcast_to(np.asarray(population.tau_syn_ms, np.float64), (size,))
    alpha = np.exp(-dt_ms / tau_m)
    beta = np.exp(-dt_ms / tau_syn)
    return alpha, beta, (tau_syn / dt_ms) * (1.0 - beta)


def as_vector(value: float | np.ndarray, size: int) -> np.ndarray:
    """A neuron parameter as a float64 ``[size]`` array."""
    return np.array(np.broadcast_to(np.asarray(value, np.float64), (size,)))


def memory_bytes(network: Network) -> int:
    """Bytes held by the network's arrays (weights, delays, masks, per-neuron parameters)."""
    return int(sum(array.nbytes for _, array in network.iter_arrays()))


def is_integer_valued(array: np.ndarray) -> bool:
    return array.dtype.kind in "biu" or bool(np.all(array == np.round(array)))
