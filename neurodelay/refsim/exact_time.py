"""Exact-time reference: the continuous-time limit of the IR dynamics, simulated event by event.

The IR's discrete dynamics (:mod:`neurodelay.ir.nodes`) discretise, step by step, the system

    I jumps by w at every arrival,            tau_syn dI/dt = -I                  (between arrivals)
    tau_m dV/dt = -(V - rest) + I + bias
    LIF: V reaching ``threshold`` at time t is a spike at t, and V := reset

(the discrete ``i_scale * I[n]``, ``i_scale = (tau_syn/dt)(1 - beta)``, is the mean over one step
of a current that starts at ``I[n]`` and decays, so it tends to ``I`` as dt -> 0). This module
integrates that system exactly in float64 numpy, independently of the refsim float mode and of
the torch engine: between events, with ``u = V - (rest + bias)`` and ``s`` the time since the
last event (ms),

    I(s) = I0 exp(-s / tau_syn),      u(s) = u0 exp(-s / tau_m) + I0 K(s),
    K(s) = (s / tau_m) exp(-s min(1/tau_m, 1/tau_syn)) phi(s |1/tau_syn - 1/tau_m|),
    phi(x) = (1 - exp(-x)) / x,

which holds for tau_m == tau_syn too. ``du/ds = (I - u) / tau_m`` changes sign at most once
between events, so every crossing of the threshold is bracketed on a stretch where u rises, and is
located there by safeguarded Newton iteration to ~1e-13 ms. Delays are continuous (not rounded).

**Time mapping** (ms, ``dt = network.dt_ms``). Step n of the discrete model is the interval
``[n dt, (n+1) dt]``: its arrivals land at its start, ``V[n]`` is the voltage at its end, and a
spike detected at step n is a crossing inside it, on average at its midpoint. Accordingly

- a spike of input row n is emitted at ``(n + 1/2) dt``;
- a spike emitted at time t through a synapse of delay d steps arrives at ``t + (d + 1/2) dt``
  (an input spike of row n thus at ``(n + 1 + d) dt``, the start of the discrete arrival step);
- leaky-integrator voltages are sampled at ``(n + 1) dt`` for n = 0 ... steps-1, and LIF neurons
  are simulated until ``steps * dt``; V starts at ``rest`` and I at 0 at time 0.

With this mapping the discrete spike trains agree with the exact ones to within about a step and
the discrete loss converges to the exact one linearly in dt. A derivative with respect to
``delays_steps`` is per step of delay, as the engine's delay gradient. Refractory periods are not
modelled (``refractory_steps`` must be 0).

Hidden neurons are processed in windows no longer than the shortest latency between spiking
populations: inside a window every arrival is already known, so all trials and neurons advance
together, arrival by arrival (vectorised over ``[batch * neurons]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np

from ..errors import ExecutorError, ValidationError
from ..ir import LIF, LeakyIntegrator, Network, Projection, as_vector

NEWTON_TOLERANCE_MS = 1e-13
"""A crossing time is accepted once a Newton step is below this (ms)."""


@dataclass
class ExactRun:
    """Result of :func:`simulate_exact` for a batch of trials.

    spikes: ``{LIF population: (trial [K] int64, neuron [K] int64, time [K] float64 ms)}``, every
        threshold crossing in ``(0, steps * dt]``, sorted by time within each (trial, neuron).
    counts: ``{LIF population: [batch, n] int64}`` spike counts.
    voltages: ``{leaky-integrator population: [batch, steps, n]}``, V at ``(n + 1) dt``.
    """

    spikes: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]
    counts: dict[str, np.ndarray]
    voltages: dict[str, np.ndarray]


@dataclass
class Neurons:
    """Per-neuron constants ``[n]`` of one or more populations, in the shifted variable ``u``."""

    tau_m: np.ndarray
    tau_syn: np.ndarray
    u_start: np.ndarray  # rest - (rest + bias): u at time 0
    u_threshold: np.ndarray  # threshold - (rest + bias); +inf for leaky integrators
    u_reset: np.ndarray  # reset - (rest + bias)

    @classmethod
    def of(cls, populations: list[LIF | LeakyIntegrator]) -> "Neurons":
        """Constants of ``populations`` concatenated in order (leaky integrators: no threshold)."""

        def joined(name: str, default: float = np.inf) -> np.ndarray:
            return np.concatenate([as_vector(getattr(p, name, default), p.size) for p in populations] + [np.zeros(0)])

        offset = joined("rest") + joined("bias")
        return cls(
            joined("tau_m_ms"),
            joined("tau_syn_ms"),
            joined("rest") - offset,
            joined("threshold") - offset,
            joined("reset", 0.0) - offset,
        )

    def take(self, rows: np.ndarray) -> "Neurons":
        return Neurons(*(getattr(self, name)[rows] for name in self.__dataclass_fields__))


def relative_expm1(x: np.ndarray) -> np.ndarray:
    """``phi(x) = (1 - exp(-x)) / x`` for x >= 0, with phi(0) = 1."""
    small = x < 1e-6
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x / 2.0 + x * x / 6.0, -np.expm1(-safe) / safe)


def relative_log1p(x: np.ndarray) -> np.ndarray:
    """``log1p(x) / x`` for x > -1, with value 1 at x = 0."""
    small = np.abs(x) < 1e-6
    safe = np.where(small, 1.0, x)
    return np.where(small, 1.0 - x / 2.0 + x * x / 3.0, np.log1p(safe) / safe)


def kernel(s: np.ndarray, tau_m: np.ndarray, tau_syn: np.ndarray) -> np.ndarray:
    """``K(s)``: u at s >= 0 ms after a unit current step I(0) = 1 from u(0) = 0."""
    slow_rate = np.minimum(1.0 / tau_m, 1.0 / tau_syn)
    return (s / tau_m) * np.exp(-s * slow_rate) * relative_expm1(s * np.abs(1.0 / tau_syn - 1.0 / tau_m))


def evolve(
    u: np.ndarray, current: np.ndarray, s: np.ndarray, tau_m: np.ndarray, tau_syn: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``(u, I)`` after ``s`` ms without events (all arrays broadcast together)."""
    return u * np.exp(-s / tau_m) + current * kernel(s, tau_m, tau_syn), current * np.exp(-s / tau_syn)


def turning_time(u: np.ndarray, current: np.ndarray, tau_m: np.ndarray, tau_syn: np.ndarray) -> np.ndarray:
    """Time (ms) from ``(u, I)`` until ``du/ds = 0`` (where I(s) = u(s)); +inf if it never comes.

    Solving ``I0 e^{-s/tau_syn} = u(s)`` gives ``s = tau_m (g(a) - r g(a r))`` with
    ``a = tau_m/tau_syn - 1``, ``r = u0/I0`` and ``g(x) = log1p(x)/x``; it exists for I0 != 0 and
    ``1 + a r > 0``.
    """
    a = tau_m / tau_syn - 1.0
    nonzero = current != 0.0
    r = np.divide(u, current, out=np.zeros_like(u), where=nonzero)
    exists = nonzero & (1.0 + a * r > 0.0)
    r = np.where(exists, r, 0.0)
    s = tau_m * (relative_log1p(a) - r * relative_log1p(a * r))
    return np.where(exists & (s > 0.0), s, np.inf)


def first_crossing(u: np.ndarray, current: np.ndarray, span: np.ndarray, neurons: Neurons) -> np.ndarray:
    """Time (ms) of the first crossing of ``u_threshold`` within ``(0, span]``, +inf if none.

    Requires ``u < u_threshold`` at s = 0. If u rises at first (I > u) it peaks at the turning
    time, otherwise it falls to a minimum there and rises after it; either way u rises on the
    bracket searched, which holds the crossing if u at its end is at or above threshold.
    """
    turn = turning_time(u, current, neurons.tau_m, neurons.tau_syn)
    rising = current > u
    turn_inside = turn < span
    low = np.where(rising | ~turn_inside, 0.0, turn)
    high = np.where(rising & turn_inside, turn, span)
    u_high, _ = evolve(u, current, high, neurons.tau_m, neurons.tau_syn)
    crosses = u_high >= neurons.u_threshold
    result = np.full(u.shape, np.inf)
    if crosses.any():
        rows = np.flatnonzero(crosses)
        result[rows] = newton_crossing(u[rows], current[rows], low[rows], high[rows], neurons.take(rows))
    return result


def newton_crossing(
    u: np.ndarray, current: np.ndarray, low: np.ndarray, high: np.ndarray, neurons: Neurons
) -> np.ndarray:
    """The s in ``[low, high]`` (ms) with ``u(s) = u_threshold``, u rising there, to within
    :data:`NEWTON_TOLERANCE_MS`: safeguarded Newton iteration from the secant point.

    A Newton step is taken only if it lands strictly inside the bracket and the bracket has at
    least halved over the last two iterations; otherwise the bracket is bisected. So the bracket
    halves at least once every three iterations and a row stops, at the latest, once it is no
    wider than the tolerance (:func:`iterations_needed`). The bracket test matters where u is
    shallow at the crossing: one ulp of u is then ``ulp / slope`` ms, and once that exceeds the
    tolerance Newton steps only hop between the two floating-point neighbours of the root.

    Raises :class:`ExecutorError` if u is not finite (weights too large for float64).
    """
    u_low, _ = evolve(u, current, low, neurons.tau_m, neurons.tau_syn)
    u_high, _ = evolve(u, current, high, neurons.tau_m, neurons.tau_syn)
    if not (np.all(np.isfinite(u_low)) and np.all(np.isfinite(u_high))):
        raise ExecutorError(
            "exact-time simulation: a membrane potential is not finite in float64 (weights or currents too large)"
        )
    low, high = low.copy(), high.copy()
    crossing = low + (high - low) * (neurons.u_threshold - u_low) / (u_high - u_low)
    rows = np.arange(len(u))
    width_two_ago, width_one_ago = np.full(len(u), np.inf), np.full(len(u), np.inf)
    for _ in range(iterations_needed(high - low)):
        s = crossing[rows]
        tau_m, threshold = neurons.tau_m[rows], neurons.u_threshold[rows]
        value, current_s = evolve(u[rows], current[rows], s, tau_m, neurons.tau_syn[rows])
        excess = value - threshold
        low[rows] = np.where(excess < 0.0, s, low[rows])
        high[rows] = np.where(excess >= 0.0, s, high[rows])
        width = high[rows] - low[rows]
        slope = (current_s - value) / tau_m
        newton = s - excess / np.where(slope > 0.0, slope, np.inf)
        use_newton = (slope > 0.0) & (newton > low[rows]) & (newton < high[rows]) & (width <= 0.5 * width_two_ago[rows])
        following = np.where(excess == 0.0, s, np.where(use_newton, newton, 0.5 * (low[rows] + high[rows])))
        crossing[rows] = following
        done = (
            (excess == 0.0)
            | (width <= NEWTON_TOLERANCE_MS)
            | (use_newton & (np.abs(following - s) <= NEWTON_TOLERANCE_MS))
        )
        width_two_ago[rows], width_one_ago[rows] = width_one_ago[rows], width
        rows = rows[~done]
        if not len(rows):
            return crossing
    raise ExecutorError(
        "exact-time simulation: a threshold crossing did not converge because the "
        "membrane potential is not finite in float64 (weights or currents too large)"
    )


def iterations_needed(width: np.ndarray) -> int:
    """Iterations after which :func:`newton_crossing` has shrunk brackets of ``width`` ms below the
    tolerance: three per halving, plus slack for the first two."""
    widest = float(np.max(width, initial=NEWTON_TOLERANCE_MS))
    return 3 * (int(np.ceil(np.log2(max(widest / NEWTON_TOLERANCE_MS, 1.0)))) + 2)


class Arrivals:
    """Pending arrivals at one group of neurons: flat arrays of trial, neuron, time (ms), weight."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, trial: np.ndarray, neuron: np.ndarray, time: np.ndarray, weight: np.ndarray) -> None:
        if len(trial):
            self.parts.append((trial, neuron, time, weight))

    def take_before(self, limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Remove and return every arrival earlier than ``limit`` ms."""
        if not self.parts:
            empty = np.zeros(0)
            return empty.astype(np.int64), empty.astype(np.int64), empty, empty
        trial, neuron, time, weight = (np.concatenate(column) for column in zip(*self.parts))
        early = time < limit
        self.parts = [(trial[~early], neuron[~early], time[~early], weight[~early])]
        return trial[early], neuron[early], time[early], weight[early]


def emit(
    projection: Projection, dt: float, trial: np.ndarray, pre: np.ndarray, time: np.ndarray, post_offset: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrivals of spikes ``(trial, pre neuron, time ms)`` through the existing synapses of
    ``projection``: ``(trial, post_offset + post neuron, arrival time ms, weight)``, flat."""
    existing = projection.existing()
    latency = (np.asarray(projection.delays_steps, np.float64) + 0.5) * dt
    spike, post = np.nonzero(existing[pre])
    return (
        trial[spike],
        post_offset + post,
        time[spike] + latency[pre[spike], post],
        np.asarray(projection.weights, np.float64)[pre[spike], post],
    )


def check_supported(network: Network) -> None:
    """Refuse what the continuous model leaves out: refractory periods, and rest at or above threshold."""
    for population in network.neurons():
        if isinstance(population, LIF) and population.refractory_steps:
            raise ValidationError(
                f"populations.{population.name}.refractory_steps",
                str(population.refractory_steps),
                "0 (the exact-time simulator has no refractory period)",
            )
        if isinstance(population, LIF) and np.any(
            as_vector(population.rest, population.size) >= as_vector(population.threshold, population.size)
        ):
            raise ValidationError(f"populations.{population.name}.rest", "at or above threshold", "rest < threshold")


def simulate_exact(network: Network, inputs: dict[str, np.ndarray]) -> ExactRun:
    """Run ``network`` on ``inputs`` (``{source: bool [batch, steps, n]}``) in continuous time."""
    check_supported(network)
    dt = network.dt_ms
    batch, steps = next(iter(inputs.values())).shape[:2]
    end = steps * dt
    lif = [p for p in network.neurons() if isinstance(p, LIF)]
    integrators = [p for p in network.neurons() if isinstance(p, LeakyIntegrator)]
    offsets, total = {}, 0
    for population in lif:
        offsets[population.name], total = total, total + population.size
    hidden = Neurons.of(lif)
    pending = Arrivals()
    readout_arrivals = {p.name: Arrivals() for p in integrators}

    def deliver(pre: str, trial: np.ndarray, neuron: np.ndarray, time: np.ndarray) -> None:
        for projection in network.outgoing(pre):
            if projection.post in offsets:
                pending.add(*emit(projection, dt, trial, neuron, time, offsets[projection.post]))
            else:
                readout_arrivals[projection.post].add(*emit(projection, dt, trial, neuron, time, 0))

    for name, spikes in inputs.items():
        trial, step, neuron = np.nonzero(spikes)
        deliver(name, trial, neuron, (step + 0.5) * dt)

    def owned(population: LIF, unit: np.ndarray) -> np.ndarray:
        return (unit >= offsets[population.name]) & (unit < offsets[population.name] + population.size)

    def deliver_spiking(trial: np.ndarray, unit: np.ndarray, time: np.ndarray) -> None:
        for population in lif:
            mine = owned(population, unit)
            if mine.any():
                deliver(population.name, trial[mine], unit[mine] - offsets[population.name], time[mine])

    trial, unit, time = run_spiking(
        hidden, batch, end, shortest_latency(network, set(offsets), dt), pending, deliver_spiking
    )
    spikes, counts = {}, {}
    for population in lif:
        mine = owned(population, unit)
        own_trial, neuron, own_time = trial[mine], unit[mine] - offsets[population.name], time[mine]
        order = np.lexsort((own_time, neuron, own_trial))
        spikes[population.name] = (own_trial[order], neuron[order], own_time[order])
        counts[population.name] = np.zeros((batch, population.size), np.int64)
        np.add.at(counts[population.name], (own_trial, neuron), 1)
    voltages = {p.name: sample_integrator(p, readout_arrivals[p.name], batch, steps, dt) for p in integrators}
    return ExactRun(spikes, counts, voltages)


def shortest_latency(network: Network, spiking: set[str], dt: float) -> float:
    """Shortest arrival latency (ms) of any existing synapse between LIF populations; +inf if none."""
    latencies = [
        np.min((np.asarray(p.delays_steps, np.float64)[p.existing()] + 0.5) * dt)
        for p in network.projections
        if p.pre in spiking and p.post in spiking and p.existing().any()
    ]
    return min(latencies, default=np.inf)


def run_spiking(
    neurons: Neurons,
    batch: int,
    end: float,
    window: float,
    pending: Arrivals,
    deliver: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Advance every LIF neuron of every trial from time 0 to ``end`` (ms).

    Windows of at most ``window`` ms: a spike inside a window arrives after it, so the window's
    arrivals are all in ``pending`` when it starts. ``deliver(trial, unit, time)`` queues the
    arrivals caused by the spikes found in a window. Returns ``(trial, unit, time)`` of every spike.
    """
    units = len(neurons.tau_m)
    rows = batch * units
    per_row = Neurons(*(np.tile(getattr(neurons, name), batch) for name in neurons.__dataclass_fields__))
    clock, u, current = np.zeros(rows), per_row.u_start.copy(), np.zeros(rows)
    found: list[tuple[np.ndarray, np.ndarray]] = []
    start = 0.0
    while start < end and units:
        stop = min(start + window, end)
        trial, unit, time, weight = pending.take_before(stop)
        window_spikes: list[tuple[np.ndarray, np.ndarray]] = []
        for targets, weights in arrival_columns(trial * units + unit, time, weight, rows, stop):
            window_spikes.extend(advance(clock, u, current, targets, per_row))
            current += weights
        if window_spikes:
            spiked = np.concatenate([r for r, _ in window_spikes])
            times = np.concatenate([t for _, t in window_spikes])
            deliver(spiked // units, spiked % units, times)
            found.append((spiked, times))
        start = stop
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    spiked = np.concatenate([r for r, _ in found])
    return spiked // units, spiked % units, np.concatenate([t for _, t in found])


def arrival_columns(
    row: np.ndarray, time: np.ndarray, weight: np.ndarray, rows: int, stop: float
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield ``(target time [rows], weight [rows])`` per arrival rank: the k-th arrival of every row
    in time order (rows with fewer arrivals get ``stop`` and 0), then a last column ``(stop, 0)``."""
    order = np.lexsort((time, row))
    row, time, weight = row[order], time[order], weight[order]
    first = np.searchsorted(row, row, side="left")
    rank = np.arange(len(row)) - first
    for k in range(int(rank.max()) + 1 if len(rank) else 0):
        at = rank == k
        targets, weights = np.full(rows, stop), np.zeros(rows)
        targets[row[at]], weights[row[at]] = time[at], weight[at]
        yield targets, weights
    yield np.full(rows, stop), np.zeros(rows)


def advance(
    clock: np.ndarray, u: np.ndarray, current: np.ndarray, targets: np.ndarray, neurons: Neurons
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Move every row from ``clock`` to ``targets`` (ms) in place, firing and resetting at every
    threshold crossing on the way; returns the ``(rows, times)`` of those spikes."""
    spikes = []
    active = np.flatnonzero(targets > clock)
    while len(active):
        own = neurons.take(active)
        s = first_crossing(u[active], current[active], targets[active] - clock[active], own)
        hit = np.isfinite(s)
        active, s = active[hit], s[hit]
        if not len(active):
            break
        _, current[active] = evolve(0.0, current[active], s, own.tau_m[hit], own.tau_syn[hit])
        u[active] = own.u_reset[hit]
        clock[active] += s
        spikes.append((active.copy(), clock[active].copy()))
    u[:], current[:] = evolve(u, current, targets - clock, neurons.tau_m, neurons.tau_syn)
    clock[:] = targets
    return spikes


def sample_integrator(population: LeakyIntegrator, arrivals: Arrivals, batch: int, steps: int, dt: float) -> np.ndarray:
    """V ``[batch, steps, n]`` of a leaky integrator at ``t_n = (n + 1) dt``, from its arrivals.

    The system is linear. An arrival at time a in ``(t_{n-1}, t_n]`` adds ``w e^{-(t_n - a)/tau_syn}``
    to I and ``w K(t_n - a)`` to u at ``t_n``; between samples, :func:`evolve` over dt gives
    ``I_n = beta I_{n-1} + jump_I[n]`` and ``u_n = alpha u_{n-1} + K(dt) I_{n-1} + jump_u[n]``.
    """
    neurons = Neurons.of([population])
    trial, neuron, time, weight = arrivals.take_before(np.inf)
    sample = np.ceil(time / dt).astype(np.int64) - 1
    kept = sample < steps
    trial, neuron, time, weight, sample = trial[kept], neuron[kept], time[kept], weight[kept], sample[kept]
    lag = (sample + 1) * dt - time
    tau_m, tau_syn = neurons.tau_m[neuron], neurons.tau_syn[neuron]
    jump_u = np.zeros((steps, batch, population.size))
    jump_i = np.zeros((steps, batch, population.size))
    np.add.at(jump_u, (sample, trial, neuron), weight * kernel(lag, tau_m, tau_syn))
    np.add.at(jump_i, (sample, trial, neuron), weight * np.exp(-lag / tau_syn))
    current = linear_recursion(dt / neurons.tau_syn, jump_i, np.zeros((batch, population.size)))
    previous = np.concatenate([np.zeros((1, batch, population.size)), current[:-1]])
    coupling = kernel(np.full(population.size, dt), neurons.tau_m, neurons.tau_syn)
    u = linear_recursion(dt / neurons.tau_m, coupling * previous + jump_u, np.tile(neurons.u_start, (batch, 1)))
    offset = as_vector(population.rest, population.size) + as_vector(population.bias, population.size)
    return u.transpose(1, 0, 2) + offset


def linear_recursion(rate: np.ndarray, drive: np.ndarray, start: np.ndarray) -> np.ndarray:
    """``x[n] = exp(-rate) x[n-1] + drive[n]`` for ``drive [steps, batch, n]``, ``x[-1] = start``.

    In blocks of L steps, ``x[s+k] = e^{-k r} (e^{-r} x[s-1] + sum_{j<=k} e^{j r} drive[s+j])``:
    one cumulative sum per block, with ``L r <= 2`` so that the rescaling loses at most e^2 ulps.
    """
    steps = len(drive)
    block = int(max(1, min(steps, np.floor(2.0 / np.max(rate)))))
    result = np.empty_like(drive)
    state = start
    for first in range(0, steps, block):
        k = np.arange(min(block, steps - first))[:, None] * rate  # [L, n]
        summed = np.cumsum(np.exp(k)[:, None] * drive[first : first + len(k)], axis=0)
        result[first : first + len(k)] = np.exp(-k)[:, None] * (np.exp(-rate) * state + summed)
        state = result[first + len(k) - 1]
    return result
