"""Gradient check: the engine's EventProp gradients against central finite differences of the loss
computed by the independent exact-time simulator (:mod:`neurodelay.refsim.exact_time`).

The exact-time simulator integrates the continuous-time limit of the IR dynamics with exact
threshold-crossing times and continuous delays, so each trial's loss is a smooth function of every
weight and delay until a hidden spike appears or vanishes. Central differences with small steps
therefore converge; each is taken with steps ``h`` and ``2h`` (:data:`WEIGHT_STEP`,
:data:`DELAY_STEP`, the latter in steps of dt, as the engine's delay gradient) and both are
recorded, their difference showing that the difference quotient has converged.

The engine's gradient is that of the discrete model at dt, so it differs from the exact one by a
discretisation error that halves with dt (measured on the networks of ``--random 20``, refined
from dt 0.01 ms: median 0.25 / 0.12 / 0.06 % for weights and 0.32 / 0.15 / 0.08 % for delays at
dt 0.01 / 0.005 / 0.0025 ms). Its tail comes from rare steps where an arrival lands in the step in
which its target neuron spikes: the discrete loss has a kink there and the engine returns the
slope of one side. Such a step costs a few per cent of a trial's gradient and occurs with a
probability proportional to dt (max 7.2 / 16 / 0.8 % for weights at the three dt), so the check
runs at :attr:`CaseSettings.dt_ms` = 0.0025 ms. Rarely, such a step decides a spike's step by a
near-tie and the trial's gradient is off by tens of per cent (seed 65521's network 65537: 44 % on
one trial, 9 % after summing its 16 trials, 0.07 % at dt / 3). A network with a comparison above
:data:`MAX_TARGET` is therefore checked again as the *same continuous-time problem* at
dt / :data:`REFINEMENT` (:func:`refined_problem`); both results are recorded, and the refined one
counts. An engine bug does not go away at a finer step, so this keeps the check's power while a
kink that is only the discrete model's does.

Per network, a batch of independent trials shares one label; the engine returns one gradient per
trial (``adjoint(per_trial=True)``). For a parameter with per-trial engine gradients ``g_b`` and
finite differences ``f_b`` over the trials kept, the relative error is
``sum_b |g_b - f_b| / sum_b |f_b|``: the trials' errors cannot cancel, and a parameter whose
per-trial gradients cancel in their sum is not ill-conditioned; the relative error of the summed
gradient is recorded too. A trial is left out of a comparison, and reported under its reason,
only if

- ``spike_appears_or_vanishes``: some hidden neuron's spike count differs between the base run and
  one of the perturbed runs (the loss jumps inside the finite-difference step), or
- ``engine_and_exact_spike_counts_differ``: the discrete engine forward and the exact-time
  simulator give different hidden spike counts at the base parameters, so their gradients belong
  to different spike trains (a near-grazing crossing that one of them resolves and the other not).

Only synapses whose pre-synaptic neuron spikes early enough for an arrival inside the trial are
sampled, so that no gradient is zero by construction.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

from ..ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from ..refsim.exact_time import simulate_exact
from .adjoint import adjoint
from .forward import simulate as simulate_engine
from .layout import compile_network, source_tensors
from .losses import make_loss

MEDIAN_TARGET, MAX_TARGET = 0.01, 0.05
"""Targets for the relative errors of one kind (weights or delays): median and max over the comparisons."""
REFINEMENT = 3
"""dt divisor of the second check of a network with a comparison above :data:`MAX_TARGET` (odd, so
that input spike times and synaptic latencies fall on the finer grid)."""
WEIGHT_STEP = 1e-4
"""Finite-difference step h for weights, in network current units (runs at ±h and ±2h)."""
DELAY_STEP = 1e-2
"""Finite-difference step h for delays, in steps of dt (runs at ±h and ±2h)."""
EXCLUSION_REASONS = {
    "spike_appears_or_vanishes": "a hidden spike appears or vanishes between the base and the ±h / ±2h runs of the exact-time simulator",
    "engine_and_exact_spike_counts_differ": "the discrete engine forward and the exact-time simulator give different hidden spike counts at the "
    "base parameters: not the same spike train",
}
"""The only reasons for which a trial is left out of a comparison (issue 5)."""


@dataclass
class CaseSettings:
    """One random gradient-check problem: sizes, dt (ms), duration (ms), input rate (Hz), delays (ms),
    trials per network (``batch``) and parameters sampled per projection."""

    dt_ms: float = 0.0025
    duration_ms: float = 20.0
    n_inputs: int = 6
    n_hidden: int = 5
    n_outputs: int = 3
    batch: int = 16
    input_rate_hz: float = 200.0
    max_delay_ms: float = 3.0
    min_recurrent_delay_ms: float = 0.5
    samples_per_projection: int = 1


def gradcheck_network(seed: int, settings: CaseSettings) -> Network:
    """Input -> LIF hidden (self-recurrent for odd seeds, sparse input for seeds 3 mod 4) -> readout.

    Integer delays stay one step inside ``[0, max_delay]`` so that the ±2h runs keep them in
    range; recurrent delays are at least ``min_recurrent_delay_ms`` (the exact-time simulator
    advances hidden neurons in windows of the shortest recurrent latency).
    """
    rng = np.random.default_rng(seed)
    dt = settings.dt_ms
    max_delay = int(round(settings.max_delay_ms / dt))
    n_in, n_hid, n_out = settings.n_inputs, settings.n_hidden, settings.n_outputs

    def projection(
        name: str,
        pre: str,
        post: str,
        shape: tuple[int, int],
        mean: float,
        std: float,
        min_delay: int = 1,
        sparse: bool = False,
    ) -> Projection:
        weights = rng.normal(mean, std, shape)
        delays = rng.integers(min_delay, max_delay, shape).astype(np.int64)
        mask = rng.random(shape) < 0.7 if sparse else None
        if mask is not None:
            weights, delays = np.where(mask, weights, 0.0), np.where(mask, delays, 0)
        return Projection(name, pre, post, weights, delays, max_delay, mask=mask)

    hidden = LIF("hidden", n_hid, tau_m_ms=rng.uniform(10.0, 20.0, n_hid), tau_syn_ms=rng.uniform(3.0, 6.0, n_hid))
    readout = LeakyIntegrator(
        "readout", n_out, tau_m_ms=rng.uniform(10.0, 20.0, n_out), tau_syn_ms=rng.uniform(3.0, 6.0, n_out)
    )
    projections = [projection("input_hidden", "input", "hidden", (n_in, n_hid), 1.2, 0.6, sparse=seed % 4 == 3)]
    if seed % 2 == 1:
        min_recurrent = int(round(settings.min_recurrent_delay_ms / dt))
        projections.append(projection("hidden_hidden", "hidden", "hidden", (n_hid, n_hid), 0.0, 0.3, min_recurrent))
    projections.append(projection("hidden_readout", "hidden", "readout", (n_hid, n_out), 0.0, 1.0))
    return Network(
        f"gradcheck_{seed}",
        dt,
        (SpikeSource("input", n_in), hidden, readout),
        tuple(projections),
        provenance={"generator": "neurodelay.engine.gradcheck", "seed": seed},
    )


def trial_cross_entropy(trace: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-trial cross-entropy ``[batch]`` of ``r = (1/N) sum_n exp(-n/N) V[n]`` over the ``N`` steps
    of ``trace [batch, N, n_out]`` (numpy, written independently of :mod:`neurodelay.engine.losses`)."""
    steps = trace.shape[1]
    readout = np.einsum("btn,t->bn", trace, np.exp(-np.arange(steps) / steps) / steps)
    shifted = readout - readout.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels]


@dataclass
class ExactLosses:
    """Exact-time run of one network: per-trial losses ``[batch]``, hidden spike counts
    ``[batch, n_hidden]`` and hidden spikes ``(trial, neuron, time ms)``."""

    losses: np.ndarray
    counts: np.ndarray
    spikes: tuple[np.ndarray, np.ndarray, np.ndarray]


def exact_losses(network: Network, inputs: np.ndarray, labels: np.ndarray) -> ExactLosses:
    """Losses and hidden spikes of ``network`` on ``inputs [batch, steps, n_in]`` (exact-time simulator)."""
    run = simulate_exact(network, {"input": inputs})
    return ExactLosses(trial_cross_entropy(run.voltages["readout"], labels), run.counts["hidden"], run.spikes["hidden"])


@dataclass
class EngineTrials:
    """The engine on one batch: per-trial gradients ``{projection: {kind: [batch, n_pre, n_post]}}``
    (kind ``weights`` per current unit, ``delays`` per step) and hidden spike counts ``[batch, n_hidden]``."""

    gradients: dict[str, dict[str, np.ndarray]]
    counts: np.ndarray


def engine_trials(network: Network, inputs: np.ndarray, labels: np.ndarray) -> EngineTrials:
    """The engine's forward pass and per-trial EventProp gradients of each trial's loss."""
    compiled = compile_network(network, dtype=torch.float64)
    names = [c.name for c in compiled.connections]
    weights = {p.name: torch.as_tensor(p.weights) for p in network.projections}
    delays = {p.name: torch.as_tensor(p.delays_steps, dtype=torch.float64) for p in network.projections}
    tape = simulate_engine(compiled, source_tensors(compiled, inputs), weights, delays)
    trace = tape.readout["readout"].detach().requires_grad_(True)
    labels_tensor = torch.as_tensor(labels, dtype=torch.int64)
    summed = make_loss("exp_weighted_ce")(trace, labels_tensor) * len(labels)  # sum of trial losses
    (readout_grad,) = torch.autograd.grad(summed, trace)
    counts = {g.name: torch.zeros(tape.batch, g.size, dtype=torch.float64) for g in compiled.spiking}
    weight_grads, delay_grads = adjoint(compiled, tape, {"readout": readout_grad}, counts, per_trial=True)
    gradients = {n: {"weights": weight_grads[n].numpy(), "delays": delay_grads[n].numpy()} for n in names}
    return EngineTrials(gradients, tape.spike_counts["hidden"].numpy().round().astype(np.int64))


def perturbed(network: Network, projection: str, field_name: str, index: tuple[int, int], value: float) -> Network:
    """A copy of ``network`` with one weight or delay of ``projection`` set to ``value``."""
    projections = []
    for candidate in network.projections:
        if candidate.name == projection:
            values = getattr(candidate, field_name).astype(np.float64)
            values[index] = value
            candidate = replace(candidate, **{field_name: values})
        projections.append(candidate)
    return network.with_projections(projections)


@dataclass
class Comparison:
    """One parameter over the trials kept: engine gradients ``g_b`` against finite differences
    ``f_b`` (step h), ``rel_err = sum_b |g_b - f_b| / sum_b |f_b|``; ``engine`` and
    ``finite_difference`` are the sums over the trials, ``sum_rel_err`` the relative error of those
    sums (the batch gradient; large where the trials' gradients cancel), ``fd_coarse`` the summed
    finite difference with step 2h and ``fd_spread = sum_b |f_b - f2h_b| / sum_b |f_b|`` (how far
    the difference quotient is from converged); ``excluded_trials``: ``{reason: [trial, ...]}``;
    ``dt_ms`` the step it was made at and, for a refined comparison, ``unrefined_rel_err`` the one
    made at the case's own dt. Delay gradients and ``step`` are per step of the case's own dt."""

    case: int
    projection: str
    kind: str
    index: tuple[int, int]
    step: float
    trials_kept: int = 0
    engine: float | None = None
    finite_difference: float | None = None
    fd_coarse: float | None = None
    fd_spread: float | None = None
    rel_err: float | None = None
    sum_rel_err: float | None = None
    excluded_trials: dict[str, list[int]] = field(default_factory=dict)
    dt_ms: float | None = None
    unrefined_rel_err: float | None = None

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}


def check_parameter(
    case: int,
    network: Network,
    inputs: np.ndarray,
    labels: np.ndarray,
    projection: Projection,
    kind: str,
    index: tuple[int, int],
    engine_per_trial: np.ndarray,
    base: ExactLosses,
    same_spike_train: np.ndarray,
    refinement: int = 1,
) -> Comparison:
    """Central finite differences of one weight (``kind="weights"``) or delay (``"delays"``).

    engine_per_trial: ``[batch]`` engine gradients; base: the exact-time run at the unperturbed
    parameters; same_spike_train: ``[batch]`` bool, False for trials where the engine and the
    exact-time simulator disagree on hidden spike counts (left out with that reason);
    refinement: ``network`` is a case refined by this factor (:func:`refined_problem`): the delay
    step is taken in steps of the case's own dt, and delay gradients are returned per such step.
    """
    field_name = "weights" if kind == "weights" else "delays_steps"
    unit = 1 if kind == "weights" else refinement  # network steps per unit of the parameter
    h = (WEIGHT_STEP if kind == "weights" else DELAY_STEP) * unit
    value = float(getattr(projection, field_name)[index])
    comparison = Comparison(case, projection.name, kind, index, h / unit, dt_ms=network.dt_ms)
    runs = {
        offset: exact_losses(perturbed(network, projection.name, field_name, index, value + offset), inputs, labels)
        for offset in (h, -h, 2 * h, -2 * h)
    }
    steady = np.all([np.all(run.counts == base.counts, axis=1) for run in runs.values()], axis=0)
    kept = same_spike_train & steady
    for reason, left_out in (
        ("engine_and_exact_spike_counts_differ", ~same_spike_train),
        ("spike_appears_or_vanishes", same_spike_train & ~steady),
    ):
        if left_out.any():
            comparison.excluded_trials[reason] = np.flatnonzero(left_out).tolist()
    comparison.trials_kept = int(kept.sum())
    if not kept.any():
        return comparison
    fine = (runs[h].losses - runs[-h].losses)[kept] / (2.0 * h) * unit
    coarse = (runs[2 * h].losses - runs[-2 * h].losses)[kept] / (4.0 * h) * unit
    engine = engine_per_trial[kept] * unit
    scale = np.abs(fine).sum()
    comparison.engine, comparison.finite_difference = float(engine.sum()), float(fine.sum())
    comparison.fd_coarse = float(coarse.sum())
    comparison.fd_spread = float(np.abs(fine - coarse).sum() / scale) if scale else float("inf")
    comparison.rel_err = float(np.abs(engine - fine).sum() / scale) if scale else float("inf")
    comparison.sum_rel_err = float(abs(engine.sum() - fine.sum()) / abs(fine.sum())) if fine.sum() else float("inf")
    return comparison


def effective_synapses(
    projection: Projection, network: Network, inputs: np.ndarray, base: ExactLosses, trials: np.ndarray
) -> np.ndarray:
    """``[n_pre, n_post]`` bool: existing synapses through which some pre spike of the ``trials``
    arrives before the last readout sample (``steps * dt``, exact-time mapping), so that the loss
    depends on them."""
    dt = network.dt_ms
    end = inputs.shape[1] * dt
    n_pre = projection.weights.shape[0]
    if projection.pre == "input":
        trial, step, neuron = np.nonzero(inputs)
        time = (step + 0.5) * dt
    else:
        trial, neuron, time = base.spikes
    earliest = np.full(n_pre, np.inf)
    chosen = trials[trial]
    np.minimum.at(earliest, neuron[chosen], time[chosen])
    latency = (np.asarray(projection.delays_steps, np.float64) + 0.5) * dt
    return projection.existing() & (earliest[:, None] + latency < end)


def case_problem(case: int, settings: CaseSettings) -> tuple[Network, np.ndarray, np.ndarray, np.random.Generator]:
    """Network ``case``, its inputs ``[batch, steps, n_in]`` (bool), labels ``[batch]`` (one class for
    every trial, so that the per-trial gradients share their sign and add up) and the generator the
    sampled parameters are then drawn from."""
    network = gradcheck_network(case, settings)
    rng = np.random.default_rng(10_000 + case)
    steps = int(round(settings.duration_ms / settings.dt_ms))
    inputs = rng.random((settings.batch, steps, settings.n_inputs)) < settings.input_rate_hz * settings.dt_ms * 1e-3
    labels = np.full(settings.batch, case % settings.n_outputs)
    return network, inputs, labels, rng


def refined_problem(network: Network, inputs: np.ndarray, factor: int) -> tuple[Network, np.ndarray]:
    """The same continuous-time problem at dt / ``factor`` (odd): an input spike of step s, at
    (s + 1/2) dt, moves to step ``factor * s + (factor - 1) / 2``, and a delay of d steps, a latency
    of (d + 1/2) dt, to ``factor * d + (factor - 1) / 2`` steps (max delays likewise); the exact-time
    simulator then sees the same spike times and latencies, and only its readout sampling grid is
    finer. inputs: ``[batch, steps, n]`` -> ``[batch, factor * steps, n]``."""
    if factor < 1 or factor % 2 == 0:
        raise ValueError(f"refinement factor {factor} is not an odd integer >= 1")
    middle = (factor - 1) // 2
    projections = [
        replace(
            projection,
            delays_steps=np.asarray(projection.delays_steps, np.int64) * factor + middle,
            max_delay_steps=projection.max_delay_steps * factor + middle,
        )
        for projection in network.projections
    ]
    finer = replace(network, dt_ms=network.dt_ms / factor).with_projections(projections)
    batch, steps, n = inputs.shape
    spread = np.zeros((batch, steps * factor, n), dtype=inputs.dtype)
    spread[:, np.arange(steps) * factor + middle, :] = inputs
    return finer, spread


def same_spike_counts(engine: EngineTrials, base: ExactLosses) -> np.ndarray:
    """``[batch]`` bool: the trials where the engine and the exact-time simulator agree on every
    hidden neuron's spike count."""
    return np.all(engine.counts == base.counts, axis=1)


def choose_parameters(
    network: Network,
    inputs: np.ndarray,
    base: ExactLosses,
    same_spike_train: np.ndarray,
    settings: CaseSettings,
    rng: np.random.Generator,
) -> list[tuple[str, int, int]]:
    """``samples_per_projection`` effective synapses ``(projection, pre, post)`` of every projection,
    drawn among those whose pre spikes arrive inside the ``same_spike_train`` trials."""
    chosen = []
    for projection in network.projections:
        candidates = np.argwhere(effective_synapses(projection, network, inputs, base, same_spike_train))
        if not len(candidates):
            continue
        count = min(settings.samples_per_projection, len(candidates))
        picks = candidates[rng.choice(len(candidates), count, replace=False)]
        chosen.extend((projection.name, int(i), int(j)) for i, j in picks)
    return chosen


def compare_case(
    case: int,
    network: Network,
    inputs: np.ndarray,
    labels: np.ndarray,
    parameters: list[tuple[str, int, int]],
    engine: EngineTrials,
    base: ExactLosses,
    refinement: int = 1,
) -> list[Comparison]:
    """The weight and the delay of each of ``parameters`` ``(projection, pre, post)``, compared by
    :func:`check_parameter` (``refinement``: see there)."""
    same_spike_train = same_spike_counts(engine, base)
    comparisons = []
    for name, i, j in parameters:
        for kind in ("weights", "delays"):
            comparisons.append(
                check_parameter(
                    case,
                    network,
                    inputs,
                    labels,
                    network.projection(name),
                    kind,
                    (i, j),
                    engine.gradients[name][kind][:, i, j],
                    base,
                    same_spike_train,
                    refinement,
                )
            )
    return comparisons


def run_case(case: int, settings: CaseSettings) -> list[Comparison]:
    """Check ``samples_per_projection`` weights and delays of every projection of network ``case``;
    if one of them misses :data:`MAX_TARGET`, check the same parameters again on the refined problem
    (:data:`REFINEMENT`) and return those comparisons, each holding its unrefined error."""
    network, inputs, labels, rng = case_problem(case, settings)
    engine, base = engine_trials(network, inputs, labels), exact_losses(network, inputs, labels)
    parameters = choose_parameters(network, inputs, base, same_spike_counts(engine, base), settings, rng)
    comparisons = compare_case(case, network, inputs, labels, parameters, engine, base)
    if all(c.rel_err is None or c.rel_err < MAX_TARGET for c in comparisons):
        return comparisons
    finer, spread = refined_problem(network, inputs, REFINEMENT)
    engine, base = engine_trials(finer, spread, labels), exact_losses(finer, spread, labels)
    refined = compare_case(case, finer, spread, labels, parameters, engine, base, REFINEMENT)
    for before, after in zip(comparisons, refined):
        after.unrefined_rel_err = before.rel_err
    return refined


def summarise(comparisons: list[Comparison], batch: int) -> dict:
    """JSON-ready summary: per kind the median / max ``rel_err`` over the comparisons made (and of
    ``sum_rel_err`` under ``batch_sum``), and ``excluded``: one entry per left-out (parameter,
    trial) with its reason, with their count out of all (parameter, trial) pairs."""
    summary: dict = {}
    for kind in ("weights", "delays"):
        made = [c for c in comparisons if c.kind == kind and c.rel_err is not None]
        errors, sums = [c.rel_err for c in made], [c.sum_rel_err for c in made]
        summary[kind] = {
            "checked": len(errors),
            "median_rel_err": float(np.median(errors)) if errors else None,
            "max_rel_err": float(np.max(errors)) if errors else None,
            "batch_sum": {
                "median_rel_err": float(np.median(sums)) if sums else None,
                "max_rel_err": float(np.max(sums)) if sums else None,
            },
        }
    summary["excluded"] = [
        {
            "case": c.case,
            "projection": c.projection,
            "kind": c.kind,
            "index": list(c.index),
            "trial": trial,
            "reason": reason,
        }
        for c in comparisons
        for reason, trials in c.excluded_trials.items()
        for trial in trials
    ]
    summary["refined"] = [
        {
            "case": case,
            "dt_ms": min(c.dt_ms for c in comparisons if c.case == case),
            "unrefined_max_rel_err": max(
                (c.unrefined_rel_err for c in comparisons if c.case == case and c.unrefined_rel_err is not None),
                default=None,
            ),
            "max_rel_err": max(
                (c.rel_err for c in comparisons if c.case == case and c.rel_err is not None), default=None
            ),
        }
        for case in sorted({c.case for c in comparisons if c.unrefined_rel_err is not None})
    ]
    summary["exclusion_reasons"] = dict(EXCLUSION_REASONS)
    summary["trial_comparisons"] = {"total": batch * len(comparisons), "excluded": len(summary["excluded"])}
    summary["comparisons"] = [c.as_dict() for c in comparisons]
    return summary


def gradcheck(cases: int, seed: int = 0, settings: CaseSettings | None = None) -> dict:
    """Run ``cases`` random networks (seeds ``seed`` ... ``seed + cases - 1``) and summarise."""
    settings = settings or CaseSettings()
    comparisons: list[Comparison] = []
    for case in range(seed, seed + cases):
        comparisons.extend(run_case(case, settings))
    result = summarise(comparisons, settings.batch)
    result["settings"] = dict(
        vars(settings), cases=cases, seed=seed, weight_step=WEIGHT_STEP, delay_step=DELAY_STEP, refinement=REFINEMENT
    )
    return result
