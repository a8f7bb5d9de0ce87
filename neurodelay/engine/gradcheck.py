"""Gradient check: the engine's EventProp gradients against finite differences of the reference
simulator's float mode (an independent forward implementation, :mod:`neurodelay.refsim`).

The forward pass is discrete in time, so the loss is a staircase in every parameter that moves a
hidden spike: a hidden spike only moves by whole steps, and a finite difference carries a rounding
error of up to one step per moved spike. The check makes that error small:

- a fine dt (default 0.01 ms against tau of 3-20 ms), so that a step is a small time shift;
- perturbations large enough to move spikes by many steps: weights by ``eps`` from
  :data:`WEIGHT_EPS_LADDER`, delays (integer in the forward pass) by ``h`` whole steps of one
  synapse from :data:`DELAY_STEP_LADDER`, the engine's delay gradient being per step of delay;
- per-trial comparison over a batch of independent trials: the engine returns one gradient per
  trial (``adjoint(per_trial=True)``), the reference simulator one loss per trial, and the
  comparison sums both over the trials kept, so that rounding errors of different trials average.

A trial in which a hidden spike appears or vanishes between the ``-`` and ``+`` runs (the spike
counts of any hidden neuron differ) is dropped from that parameter's sum and counted in
``dropped_trials``; if more than half of the trials are dropped the next, smaller perturbation is
tried, and if none keeps half the trials the parameter is excluded with that reason. Parameters
the loss does not depend on (both gradients exactly 0) are excluded with that reason, and so are
parameters whose finite difference is below its own noise floor (:data:`FD_AGREEMENT`). Every trial
gets the same label, so that the per-trial gradients share their sign and add up. The relative
error is ``|g_engine - g_fd| / |g_fd|``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from ..ir import LIF, LeakyIntegrator, Network, Projection, SpikeSource
from ..refsim import simulate
from .adjoint import adjoint
from .forward import simulate as simulate_engine
from .layout import compile_network, source_tensors
from .losses import make_loss

WEIGHT_EPS_LADDER = (0.08, 0.04, 0.02)
"""Weight perturbations E tried, in network current units (largest first); runs at ±E and ±E/2."""
DELAY_STEP_LADDER = (48, 24, 12)
"""Delay perturbations E tried, in steps (largest first); runs at ±E and ±E/2 steps."""
NONLINEARITY_TOLERANCE = 0.05
FD_AGREEMENT = 0.5
"""A comparison is excluded when the summed ±E and ±E/2 differences disagree by more than this
fraction of the gradient: the finite difference itself is then not accurate (tiny gradients whose
loss change is dominated by the one-step rounding of spike times)."""


@dataclass
class CaseSettings:
    """One random gradient-check problem: sizes, dt (ms), duration (ms), input rate (Hz)."""

    dt_ms: float = 0.01
    duration_ms: float = 20.0
    n_inputs: int = 6
    n_hidden: int = 5
    n_outputs: int = 3
    batch: int = 32
    input_rate_hz: float = 200.0
    max_delay_ms: float = 3.0
    samples_per_projection: int = 1


def gradcheck_network(seed: int, settings: CaseSettings) -> Network:
    """Input -> LIF hidden (self-recurrent for odd seeds, sparse input for seeds 3 mod 4) -> readout,
    with integer delays kept at least one ladder step away from the bounds."""
    rng = np.random.default_rng(seed)
    dt = settings.dt_ms
    max_delay = int(round(settings.max_delay_ms / dt))
    margin = max(DELAY_STEP_LADDER)
    n_in, n_hid, n_out = settings.n_inputs, settings.n_hidden, settings.n_outputs

    def projection(name: str, pre: str, post: str, shape: tuple[int, int], mean: float, std: float,
                   sparse: bool = False) -> Projection:
        weights = rng.normal(mean, std, shape)
        delays = rng.integers(margin, max_delay - margin + 1, shape).astype(np.int64)
        mask = rng.random(shape) < 0.7 if sparse else None
        if mask is not None:
            weights, delays = np.where(mask, weights, 0.0), np.where(mask, delays, 0)
        return Projection(name, pre, post, weights, delays, max_delay, mask=mask)

    hidden = LIF("hidden", n_hid, tau_m_ms=rng.uniform(10.0, 20.0, n_hid), tau_syn_ms=rng.uniform(3.0, 6.0, n_hid))
    readout = LeakyIntegrator("readout", n_out, tau_m_ms=rng.uniform(10.0, 20.0, n_out),
                              tau_syn_ms=rng.uniform(3.0, 6.0, n_out))
    projections = [projection("input_hidden", "input", "hidden", (n_in, n_hid), 1.2, 0.6, sparse=seed % 4 == 3)]
    if seed % 2 == 1:
        projections.append(projection("hidden_hidden", "hidden", "hidden", (n_hid, n_hid), 0.0, 0.3))
    projections.append(projection("hidden_readout", "hidden", "readout", (n_hid, n_out), 0.0, 1.0))
    return Network(f"gradcheck_{seed}", dt, (SpikeSource("input", n_in), hidden, readout), tuple(projections),
                   provenance={"generator": "neurodelay.engine.gradcheck", "seed": seed})


def trial_cross_entropy(trace: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-trial cross-entropy ``[batch]`` of ``r = (1/N) sum_n exp(-n/N) V[n]`` (numpy, written
    independently of :mod:`neurodelay.engine.losses`)."""
    steps = trace.shape[1]
    readout = np.einsum("btn,t->bn", trace, np.exp(-np.arange(steps) / steps) / steps)
    shifted = readout - readout.max(1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels]


def reference_losses(network: Network, inputs: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-trial losses ``[batch]`` and hidden spike counts ``[batch, n_hidden]`` (refsim float mode)."""
    recording = simulate(network, inputs, mode="float")
    losses = trial_cross_entropy(recording.populations["readout"].states["v"], labels)
    return losses, recording.populations["hidden"].spikes.sum(1)


def engine_trial_gradients(network: Network, inputs: np.ndarray, labels: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """The engine's gradients of each trial's loss: ``{projection: {kind: [batch, n_pre, n_post]}}``."""
    compiled = compile_network(network, dtype=torch.float64)
    names = [c.name for c in compiled.connections]
    weights = {p.name: torch.as_tensor(p.weights) for p in network.projections}
    delays = {p.name: torch.as_tensor(p.delays_steps, dtype=torch.float64) for p in network.projections}
    tape = simulate_engine(compiled, source_tensors(compiled, inputs), weights, delays)
    trace = tape.readout["readout"].detach().requires_grad_(True)
    labels_tensor = torch.as_tensor(labels, dtype=torch.int64)
    summed = make_loss("exp_weighted_ce")(trace, labels_tensor) * len(labels)     # sum of trial losses
    (readout_grad,) = torch.autograd.grad(summed, trace)
    counts = {g.name: torch.zeros(tape.batch, g.size, dtype=torch.float64) for g in compiled.spiking}
    weight_grads, delay_grads = adjoint(compiled, tape, {"readout": readout_grad}, counts, per_trial=True)
    return {n: {"weights": weight_grads[n].numpy(), "delays": delay_grads[n].numpy()} for n in names}


def perturbed(network: Network, projection: str, field_name: str, index: tuple[int, int], value) -> Network:
    projections = []
    for candidate in network.projections:
        if candidate.name == projection:
            values = getattr(candidate, field_name).copy()
            values[index] = value
            candidate = replace(candidate, **{field_name: values})
        projections.append(candidate)
    return network.with_projections(projections)


@dataclass
class Comparison:
    """One parameter: engine and finite-difference gradient summed over the trials kept."""

    case: int
    projection: str
    kind: str
    index: tuple[int, int]
    engine: float | None = None
    finite_difference: float | None = None
    perturbation: float | None = None
    dropped_trials: int = 0
    dropped_spike_change: int = 0
    fd_full: float | None = None
    fd_half: float | None = None
    rel_err: float | None = None
    excluded: str | None = None

    def as_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in vars(self).items()}


def check_parameter(case: int, network: Network, inputs: np.ndarray, labels: np.ndarray, projection: Projection,
                    kind: str, index: tuple[int, int], engine_per_trial: np.ndarray) -> Comparison:
    """Finite difference of one weight or delay, per trial, from runs at ``±E`` and ``±E/2``.

    Per trial: ``fd_E`` and ``fd_E/2`` are central differences; the estimate is the fourth-order
    stencil ``(4 fd_E/2 - fd_E) / 3``. A trial is kept only if all four runs have the same spike
    counts for every hidden neuron and ``|fd_E - fd_E/2| <= NONLINEARITY_TOLERANCE * max(|fd_E|,
    |fd_E/2|) + 0.02 * max over trials of |fd_E/2|`` (the loss is locally linear there; a spike close
    to grazing the threshold makes it jump). The first perturbation of the ladder that keeps at
    least half of the trials is used. ``engine_per_trial``: ``[batch]`` engine gradients.
    """
    field_name = "weights" if kind == "weights" else "delays_steps"
    base = getattr(projection, field_name)[index]
    ladder = WEIGHT_EPS_LADDER if kind == "weights" else DELAY_STEP_LADDER
    comparison = Comparison(case, projection.name, kind, index)

    def losses_at(offset):
        return reference_losses(perturbed(network, projection.name, field_name, index, base + offset), inputs, labels)

    for step in ladder:
        half = step / 2 if kind == "weights" else step // 2
        runs = [losses_at(offset) for offset in (step, -step, half, -half)]
        same_counts = np.all([np.all(counts == runs[0][1], axis=1) for _, counts in runs], axis=0)
        fd_full = (runs[0][0] - runs[1][0]) / (2.0 * step)
        fd_half = (runs[2][0] - runs[3][0]) / (2.0 * half)
        floor = 0.02 * np.max(np.abs(fd_half))
        linear = np.abs(fd_full - fd_half) <= NONLINEARITY_TOLERANCE * np.maximum(np.abs(fd_full), np.abs(fd_half)) + floor
        kept = same_counts & linear
        if 2 * kept.sum() < len(kept):
            continue
        fd = float(((4.0 * fd_half - fd_full) / 3.0)[kept].sum())
        engine = float(engine_per_trial[kept].sum())
        comparison.engine, comparison.finite_difference = engine, fd
        comparison.fd_full, comparison.fd_half = float(fd_full[kept].sum()), float(fd_half[kept].sum())
        comparison.perturbation, comparison.dropped_trials = float(step), int((~kept).sum())
        comparison.dropped_spike_change = int((~same_counts).sum())
        if fd == 0.0 and engine == 0.0:
            comparison.excluded = "loss independent of this parameter (both gradients exactly 0)"
        elif abs(comparison.fd_full - comparison.fd_half) > FD_AGREEMENT * abs(fd):
            comparison.excluded = (f"finite difference below its noise floor: the ±E and ±E/2 estimates differ by "
                                   f"more than {FD_AGREEMENT:.0%} of the gradient (one-step rounding of spike times)")
        else:
            comparison.rel_err = abs(engine - fd) / abs(fd) if fd != 0.0 else float("inf")
        return comparison
    unit = "current units" if kind == "weights" else "steps"
    comparison.excluded = (f"a hidden spike appears or vanishes, or the loss is not locally linear, in more than "
                           f"half of the trials even at the smallest perturbation ({ladder[-1]} {unit})")
    return comparison


def run_case(case: int, settings: CaseSettings) -> list[Comparison]:
    """Check ``samples_per_projection`` weights and delays of every projection of network ``case``."""
    network = gradcheck_network(case, settings)
    rng = np.random.default_rng(10_000 + case)
    steps = int(round(settings.duration_ms / settings.dt_ms))
    inputs = rng.random((settings.batch, steps, settings.n_inputs)) < settings.input_rate_hz * settings.dt_ms * 1e-3
    # one class for every trial, so that the per-trial gradients share their sign and add up
    labels = np.full(settings.batch, case % settings.n_outputs)
    gradients = engine_trial_gradients(network, inputs, labels)
    _, base_counts = reference_losses(network, inputs, labels)
    pre_spikes = {"input": inputs.sum((0, 1)), "hidden": base_counts.sum(0)}
    comparisons = []
    for projection in network.projections:
        candidates = np.argwhere(projection.existing() & (pre_spikes[projection.pre][:, None] > 0))
        if not len(candidates):
            continue
        chosen = candidates[rng.choice(len(candidates), min(settings.samples_per_projection, len(candidates)),
                                       replace=False)]
        for i, j in chosen:
            for kind in ("weights", "delays"):
                comparisons.append(check_parameter(case, network, inputs, labels, projection, kind, (int(i), int(j)),
                                                   gradients[projection.name][kind][:, i, j]))
    return comparisons


def summarise(comparisons: list[Comparison]) -> dict:
    """JSON-ready summary: per kind median / max relative error, plus every exclusion with its reason."""
    summary: dict = {}
    for kind in ("weights", "delays"):
        errors = [c.rel_err for c in comparisons if c.kind == kind and c.rel_err is not None]
        summary[kind] = {"checked": len(errors),
                         "median_rel_err": float(np.median(errors)) if errors else None,
                         "max_rel_err": float(np.max(errors)) if errors else None}
    summary["excluded"] = [c.as_dict() for c in comparisons if c.excluded is not None]
    spike_changes = int(sum(c.dropped_spike_change for c in comparisons))
    summary["dropped_trials"] = {
        "total": int(sum(c.dropped_trials for c in comparisons)),
        "spike_appears_or_vanishes": spike_changes,
        "not_locally_linear": int(sum(c.dropped_trials for c in comparisons)) - spike_changes}
    summary["comparisons"] = [c.as_dict() for c in comparisons]
    return summary


def gradcheck(cases: int, seed: int = 0, settings: CaseSettings | None = None) -> dict:
    """Run ``cases`` random networks (seeds ``seed`` ... ``seed + cases - 1``) and summarise."""
    settings = settings or CaseSettings()
    comparisons: list[Comparison] = []
    for case in range(seed, seed + cases):
        comparisons.extend(run_case(case, settings))
    result = summarise(comparisons)
    result["settings"] = dict(vars(settings), cases=cases, seed=seed)
    return result
