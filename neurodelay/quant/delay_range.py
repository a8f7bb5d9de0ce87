"""Delays beyond a chip's range: the three honest options, each reporting what it costs.

(a) :func:`clamp_delays` — train (or fine-tune) with the chip's bound as the delay clamp: every
    projection's ``max_delay_steps`` becomes ``min(max_delay_steps, bound)`` and longer delays are
    clipped (counted). Costs accuracy, unless training recovers it; no extra neurons.
(b) :func:`coarsen_timestep` — run the chip at ``dt' = factor * dt``: time constants stay in ms (the
    IR's decays are recomputed for dt', so alpha' = alpha**factor), delays are re-expressed so that
    the latency ``(1 + d) dt`` is kept as closely as the coarse grid allows:
    ``d' = max(0, floor((1 + d) / factor - 1 + 1/2))``; refractory periods round the same way;
    inputs are re-binned by :func:`coarsen_inputs` (spikes in one coarse bin merge). Costs the
    rounding of latencies and inputs (reported), no extra neurons; every delay range grows ``factor``-fold.
(c) :func:`relay_chains` — extend a delay through relay neurons: a relay LIF fires in the very step
    a spike reaches it (its decays are 1/4096 and its input is twice its threshold, so it neither
    misses a spike nor fires on its own), so one hop adds exactly ``B + 1`` steps of latency with
    link delay ``B``. A synapse of delay ``D > B`` leaves its pre neuron's chain after
    ``m = ceil((D - B) / (B + 1))`` relays with the remaining delay ``D - m (B + 1)`` in ``[0, B]``:
    exact in the IR's dynamics, at the cost of relay neurons (one per pre neuron and hop), their
    synapses and the cores they occupy.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np

from ..errors import ValidationError
from ..ir import LIF, Network, Projection

RELAY_DECAY_PER_STEP = 1.0 / 4096
"""alpha = beta of a relay neuron: a 12-bit decay fraction, exactly representable on the built-in chips."""
RELAY_DRIVE = 2.0
"""A relay's membrane step for one input spike, in thresholds."""


def _integer_delays(projection: Projection) -> np.ndarray:
    delays = np.asarray(projection.delays_steps)
    return delays.astype(np.int64) if delays.dtype.kind in "iu" else np.floor(delays + 0.5).astype(np.int64)


# ----- (a) clamp ------------------------------------------------------------------------------
@dataclass
class ClampReport:
    """bound: steps; clipped: per projection, synapses whose delay exceeded the bound;
    max_excess_steps: per projection, the largest excess."""

    bound: int
    clipped: dict[str, int] = field(default_factory=dict)
    max_excess_steps: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clamp_delays(network: Network, bound: int) -> tuple[Network, ClampReport]:
    """Option (a): ``max_delay_steps`` and delays clamped to ``bound`` steps (float delays stay float)."""
    if bound < 0:
        raise ValidationError("delay bound", f"{bound}", ">= 0 steps")
    report = ClampReport(int(bound))
    projections = []
    for projection in network.projections:
        existing = projection.existing()
        delays = np.asarray(projection.delays_steps)
        over = existing & (np.floor(delays + 0.5) > bound)
        report.clipped[projection.name] = int(over.sum())
        report.max_excess_steps[projection.name] = float(np.where(over, delays - bound, 0).max(initial=0))
        top = min(projection.max_delay_steps, int(bound))
        projections.append(
            replace(
                projection,
                delays_steps=np.where(existing, np.minimum(delays, top), 0).astype(delays.dtype),
                max_delay_steps=top,
            )
        )
    return network.with_projections(projections), report


# ----- (b) coarser timestep -------------------------------------------------------------------
@dataclass
class CoarseningReport:
    """factor: dt' / dt; synapses_retimed: per projection, synapses whose latency ``(1 + d) dt``
    changed; max_latency_error_ms / mean_abs_latency_error_ms: over existing synapses (coarse minus
    fine, ms); refractory_changes: per population, (steps before, steps after)."""

    factor: int
    dt_ms: float
    synapses_retimed: dict[str, int] = field(default_factory=dict)
    max_latency_error_ms: dict[str, float] = field(default_factory=dict)
    mean_abs_latency_error_ms: dict[str, float] = field(default_factory=dict)
    refractory_changes: dict[str, tuple[int, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def coarse_delay_steps(delays_steps: np.ndarray, factor: int) -> np.ndarray:
    """Delays (int64) on a ``factor`` times coarser grid keeping the latency ``1 + d`` steps: round half up."""
    return np.maximum(0, np.floor((1 + np.asarray(delays_steps, np.float64)) / factor - 0.5)).astype(np.int64)


def coarsen_timestep(network: Network, factor: int) -> tuple[Network, CoarseningReport]:
    """Option (b): the network at ``dt_ms * factor`` (see the module docstring); the report of what moved."""
    if not isinstance(factor, (int, np.integer)) or factor < 1:
        raise ValidationError("timestep factor", f"{factor!r}", "an integer >= 1")
    factor = int(factor)
    dt = network.dt_ms * factor
    report = CoarseningReport(factor, dt)
    projections = []
    for projection in network.projections:
        existing = projection.existing()
        fine = _integer_delays(projection)
        coarse = np.where(existing, coarse_delay_steps(fine, factor), 0)
        error_ms = ((1 + coarse) * factor - (1 + fine)) * network.dt_ms
        error_ms = np.where(existing, error_ms, 0.0)
        report.synapses_retimed[projection.name] = int((error_ms != 0).sum())
        report.max_latency_error_ms[projection.name] = float(np.abs(error_ms).max(initial=0.0))
        report.mean_abs_latency_error_ms[projection.name] = (
            float(np.abs(error_ms[existing]).mean()) if existing.any() else 0.0
        )
        top = int(coarse_delay_steps(np.array([projection.max_delay_steps]), factor)[0])
        projections.append(replace(projection, delays_steps=coarse, max_delay_steps=top))
    populations = []
    for population in network.populations:
        if isinstance(population, LIF) and population.refractory_steps:
            steps = int(math.floor(population.refractory_steps / factor + 0.5))
            if steps != population.refractory_steps / factor:
                report.refractory_changes[population.name] = (population.refractory_steps, steps)
            population = replace(population, refractory_steps=steps)
        populations.append(population)
    provenance = {**network.provenance, "timestep_coarsening": report.to_dict()}
    return Network(network.name, dt, tuple(populations), tuple(projections), provenance), report


def coarsen_inputs(inputs: dict[str, np.ndarray], factor: int) -> tuple[dict[str, np.ndarray], int]:
    """Spike inputs ``[batch, steps, n]`` re-binned to ``ceil(steps / factor)`` coarse steps (a spike at
    fine step t goes to coarse step ``t // factor``); returns them and the number of spikes merged."""
    coarse, merged = {}, 0
    for name, spikes in inputs.items():
        batch, steps, size = spikes.shape
        padded = np.zeros((batch, -(-steps // factor) * factor, size), bool)
        padded[:, :steps] = spikes
        binned = padded.reshape(batch, -1, factor, size)
        coarse[name] = binned.any(axis=2)
        merged += int(binned.sum()) - int(coarse[name].sum())
    return coarse, merged


# ----- (c) relay chains -----------------------------------------------------------------------
@dataclass
class RelayReport:
    """bound: link delay limit (steps); relay_neurons / relay_synapses: per original projection;
    hops: histogram ``{hops: synapses}``; rounded_delays: non-integer delays rounded first."""

    bound: int
    relay_neurons: dict[str, int] = field(default_factory=dict)
    relay_synapses: dict[str, int] = field(default_factory=dict)
    hops: dict[int, int] = field(default_factory=dict)
    rounded_delays: int = 0

    @property
    def extra_neurons(self) -> int:
        return sum(self.relay_neurons.values())

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "extra_neurons": self.extra_neurons}


def relay_population(name: str, size: int, dt_ms: float) -> tuple[LIF, float]:
    """A relay LIF (threshold 1, decays :data:`RELAY_DECAY_PER_STEP`) and the weight that drives it."""
    tau_ms = dt_ms / -math.log(RELAY_DECAY_PER_STEP)
    population = LIF(
        name,
        size,
        tau_m_ms=tau_ms,
        tau_syn_ms=tau_ms,
        threshold=1.0,
        reset=0.0,
        rest=0.0,
        metadata={"role": "delay relay"},
    )
    alpha = beta = math.exp(-dt_ms / tau_ms)
    i_scale = (tau_ms / dt_ms) * (1.0 - beta)
    return population, RELAY_DRIVE / ((1.0 - alpha) * i_scale)


def relay_hops(delays_steps: np.ndarray, bound: int) -> np.ndarray:
    """Relays a synapse of integer delay D needs with link bound B: ``max(0, ceil((D - B) / (B + 1)))``."""
    return np.maximum(0, -(-(np.asarray(delays_steps, np.int64) - bound) // (bound + 1)))


def relay_chains(network: Network, bound: int) -> tuple[Network, RelayReport]:
    """Option (c): every delay above ``bound`` steps routed through relay chains (module docstring).

    Relay populations are named ``<projection>_relay<k>`` (k = 1, 2, ...), one neuron per pre neuron
    that needs k or more hops; their projections ``<projection>_to_relay1``,
    ``<projection>_relay<k>_to_relay<k+1>`` and ``<projection>_relay<k>_out``.
    """
    if bound < 0:
        raise ValidationError("delay bound", f"{bound}", ">= 0 steps")
    report = RelayReport(int(bound))
    populations = list(network.populations)
    projections: list[Projection] = []
    for projection in network.projections:
        existing = projection.existing()
        delays = np.where(existing, _integer_delays(projection), 0)
        report.rounded_delays += int((existing & (delays != np.asarray(projection.delays_steps))).sum())
        hops = np.where(existing, relay_hops(delays, bound), 0)
        for count, synapses in zip(*np.unique(hops[existing], return_counts=True)):
            report.hops[int(count)] = report.hops.get(int(count), 0) + int(synapses)
        direct = existing & (hops == 0)
        projections.append(
            replace(
                projection,
                weights=np.where(direct, projection.weights, 0.0),
                delays_steps=np.where(direct, delays, 0),
                max_delay_steps=min(projection.max_delay_steps, int(bound)),
                mask=direct,
            )
        )
        if not hops.any():
            continue
        needed = hops.max(axis=1)  # [n_pre]: hops of the pre neuron's longest synapse
        previous, previous_members = projection.pre, np.arange(len(needed))
        report.relay_neurons[projection.name] = 0
        report.relay_synapses[projection.name] = 0
        insert_at = populations.index(network.population(projection.post))
        for level in range(1, int(needed.max()) + 1):
            members = np.nonzero(needed >= level)[0]  # pre neurons with a relay at this level
            relay, drive = relay_population(f"{projection.name}_relay{level}", len(members), network.dt_ms)
            populations.insert(insert_at, relay)
            insert_at += 1
            link = np.zeros((len(previous_members), len(members)), bool)
            link[np.searchsorted(previous_members, members), np.arange(len(members))] = True
            link_name = (
                f"{projection.name}_to_relay1" if level == 1 else f"{projection.name}_relay{level - 1}_to_relay{level}"
            )
            projections.append(
                Projection(
                    link_name,
                    previous,
                    relay.name,
                    np.where(link, drive, 0.0),
                    np.where(link, bound, 0),
                    int(bound),
                    mask=link,
                    metadata={"role": "delay relay link"},
                )
            )
            leaving = (hops[members] == level) & existing[members]
            out_delays = np.where(leaving, delays[members] - level * (bound + 1), 0)
            projections.append(
                Projection(
                    f"{projection.name}_relay{level}_out",
                    relay.name,
                    projection.post,
                    np.where(leaving, projection.weights[members], 0.0),
                    out_delays,
                    int(bound),
                    mask=leaving,
                    metadata={**projection.metadata, "relayed_from": projection.name},
                )
            )
            report.relay_neurons[projection.name] += len(members)
            report.relay_synapses[projection.name] += int(link.sum() + leaving.sum())
            previous, previous_members = relay.name, members
    provenance = {**network.provenance, "delay_relays": report.to_dict()}
    return Network(network.name, network.dt_ms, tuple(populations), tuple(projections), provenance), report
