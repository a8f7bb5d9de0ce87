"""``neurodelay gradcheck``: EventProp gradients against finite differences of the exact-time simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from neurodelay.cli import main
from neurodelay.engine import gradcheck as check


@pytest.fixture(scope="module")
def random_20(tmp_path_factory):
    """``neurodelay gradcheck --random 20 --seed 0`` once for the module: (exit code, JSON record)."""
    threads = torch.get_num_threads()
    path = tmp_path_factory.mktemp("gradcheck") / "gradcheck.json"
    code = main(["gradcheck", "--random", "20", "--seed", "0", "--json", str(path)])
    torch.set_num_threads(threads)
    return code, json.loads(path.read_text())


def made(record: dict, kind: str) -> list[dict]:
    return [c for c in record["comparisons"] if c["kind"] == kind and c["rel_err"] is not None]


@pytest.mark.parametrize("kind", ["weights", "delays"])
def test_random_20_meets_the_median_and_max_targets(random_20, kind):
    """Issue 5's targets for weights and delays: median relative error < 1 %, max < 5 %, over
    comparisons of every projection (input, recurrent and readout synapses)."""
    code, record = random_20
    comparisons = made(record, kind)
    errors = np.array([c["rel_err"] for c in comparisons])
    assert len(errors) == record[kind]["checked"] >= 45  # 20 networks, 2-3 projections each
    assert record[kind]["median_rel_err"] == pytest.approx(float(np.median(errors)))
    assert record[kind]["max_rel_err"] == pytest.approx(float(np.max(errors)))
    assert record[kind]["median_rel_err"] < 0.01
    assert record[kind]["max_rel_err"] < 0.05
    assert {"input_hidden", "hidden_hidden", "hidden_readout"} <= {c["projection"] for c in comparisons}
    assert code == 0 and record["passed"]


def test_random_20_finite_differences_are_converged(random_20):
    """Steps h and 2h give the same per-trial differences to well below the error targets, so the
    finite differences measure the exact-time gradient, not their own truncation error."""
    _, record = random_20
    spreads = [c["fd_spread"] for kind in ("weights", "delays") for c in made(record, kind)]
    assert max(spreads) < 0.005


def test_random_20_exclusions_are_few_and_only_for_the_allowed_reasons(random_20):
    """Every left-out (parameter, trial) pair names one of the two allowed reasons, at most 20 % of
    all pairs are left out, and every parameter keeps most of its trials."""
    _, record = random_20
    assert set(record["exclusion_reasons"]) == {"spike_appears_or_vanishes", "engine_and_exact_spike_counts_differ"}
    assert all(e["reason"] in record["exclusion_reasons"] for e in record["excluded"])
    assert record["trial_comparisons"]["excluded"] == len(record["excluded"])
    assert len(record["excluded"]) <= 0.2 * record["trial_comparisons"]["total"]
    batch = record["settings"]["batch"]
    assert all(c["trials_kept"] >= batch // 2 for c in record["comparisons"])
    for comparison in record["comparisons"]:
        left_out = sum(len(trials) for trials in comparison["excluded_trials"].values())
        assert comparison["trials_kept"] + left_out == batch


def exact_counts_after(network, inputs, labels, projection, kind, index, offset):
    field_name = "weights" if kind == "weights" else "delays_steps"
    value = getattr(network.projection(projection), field_name)[index] + offset
    return check.exact_losses(check.perturbed(network, projection, field_name, index, value), inputs, labels).counts


@pytest.fixture(scope="module")
def small_case():
    """Network 0 on 4 short trials at dt 0.01 ms: (network, inputs, labels, exact base run)."""
    settings = check.CaseSettings(duration_ms=10.0, batch=4, dt_ms=0.01)
    network = check.gradcheck_network(0, settings)
    inputs = np.random.default_rng(1).random((4, 1000, settings.n_inputs)) < 0.005
    labels = np.zeros(4, int)
    return network, inputs, labels, check.exact_losses(network, inputs, labels)


def test_a_spike_appearing_inside_the_step_is_detected_and_reported(small_case, monkeypatch):
    """With a weight step far too large, hidden spike counts change between the runs: exactly the
    trials where they change are left out with that reason, and with all of them out nothing is
    compared."""
    network, inputs, labels, base = small_case
    monkeypatch.setattr(check, "WEIGHT_STEP", 2.0)
    changed = np.zeros(4, bool)
    for offset in (2.0, -2.0, 4.0, -4.0):
        changed |= np.any(
            exact_counts_after(network, inputs, labels, "input_hidden", "weights", (0, 0), offset) != base.counts,
            axis=1,
        )
    assert changed.all()
    comparison = check.check_parameter(
        0,
        network,
        inputs,
        labels,
        network.projection("input_hidden"),
        "weights",
        (0, 0),
        np.zeros(4),
        base,
        np.ones(4, bool),
    )
    assert comparison.excluded_trials == {"spike_appears_or_vanishes": [0, 1, 2, 3]}
    assert comparison.rel_err is None and comparison.trials_kept == 0


def test_trials_where_engine_and_exact_spike_trains_differ_are_reported(small_case):
    """Trials flagged as having different engine and exact-time spike counts are left out under
    their own reason; the others are compared."""
    network, inputs, labels, base = small_case
    same_spike_train = np.array([True, False, True, True])
    comparison = check.check_parameter(
        0,
        network,
        inputs,
        labels,
        network.projection("hidden_readout"),
        "weights",
        (0, 0),
        np.ones(4),
        base,
        same_spike_train,
    )
    assert comparison.excluded_trials == {"engine_and_exact_spike_counts_differ": [1]}
    assert comparison.trials_kept == 3 and comparison.rel_err is not None


def test_readout_weight_gradient_matches_the_linear_exact_loss(small_case):
    """A readout weight leaves every spike in place, so the exact loss is smooth in it at any step:
    the engine's per-trial gradients agree with the finite differences to O(dt / tau)."""
    network, inputs, labels, base = small_case
    engine = check.engine_trials(network, inputs, labels)
    assert np.array_equal(engine.counts, base.counts)
    comparison = check.check_parameter(
        0,
        network,
        inputs,
        labels,
        network.projection("hidden_readout"),
        "weights",
        (1, 0),
        engine.gradients["hidden_readout"]["weights"][:, 1, 0],
        base,
        np.ones(4, bool),
    )
    assert comparison.trials_kept == 4 and comparison.rel_err < 0.01


def test_the_refined_problem_is_the_same_continuous_time_problem(small_case):
    """At dt / 3 the exact-time simulator sees the same input spike times and synaptic latencies:
    its hidden spikes are the same to rounding (written independently: times from the exact
    simulator, not from the mapping)."""
    network, inputs, labels, base = small_case
    finer, spread = check.refined_problem(network, inputs, 3)
    assert finer.dt_ms == pytest.approx(network.dt_ms / 3) and spread.shape[1] == 3 * inputs.shape[1]
    assert spread.sum() == inputs.sum()
    refined = check.exact_losses(finer, spread, labels)
    assert np.array_equal(refined.counts, base.counts) and base.counts.sum() > 0
    order, refined_order = np.lexsort(base.spikes[::-1]), np.lexsort(refined.spikes[::-1])
    for coarse, fine in zip(base.spikes, refined.spikes):
        np.testing.assert_allclose(fine[refined_order], coarse[order], rtol=0, atol=1e-9)
    with pytest.raises(ValueError, match="odd"):
        check.refined_problem(network, inputs, 2)


def test_a_kink_of_the_discrete_model_is_refined_away():
    """Network 65537 (found on seed 65521, a seed no test had fixed): one trial's spike step is
    decided by a near-tie at dt 0.0025 ms and three comparisons miss 5 %; the same problem at dt / 3
    meets the targets, and the record keeps both errors."""
    comparisons = check.run_case(65537, check.CaseSettings())
    unrefined = [c.unrefined_rel_err for c in comparisons if c.unrefined_rel_err is not None]
    refined = [c.rel_err for c in comparisons if c.rel_err is not None]
    assert len(unrefined) == len(comparisons) and max(unrefined) > check.MAX_TARGET
    assert max(refined) < check.MAX_TARGET
    assert all(c.dt_ms == pytest.approx(check.CaseSettings().dt_ms / check.REFINEMENT) for c in comparisons)
    summary = check.summarise(comparisons, check.CaseSettings().batch)
    assert [r["case"] for r in summary["refined"]] == [65537]
    assert summary["refined"][0]["unrefined_max_rel_err"] == max(unrefined)


def test_refinement_does_not_hide_a_wrong_gradient(monkeypatch):
    """An engine whose gradients are 20 % too large misses the target at dt and again at dt / 3."""
    honest = check.engine_trials

    def inflated(network, inputs, labels):
        trials = honest(network, inputs, labels)
        for kinds in trials.gradients.values():
            for kind in kinds:
                kinds[kind] = kinds[kind] * 1.2
        return trials

    monkeypatch.setattr(check, "engine_trials", inflated)
    settings = check.CaseSettings(duration_ms=5.0, batch=4, dt_ms=0.01, input_rate_hz=400.0)
    comparisons = check.run_case(0, settings)
    assert comparisons and all(c.unrefined_rel_err is not None for c in comparisons)
    assert min(c.rel_err for c in comparisons if c.rel_err is not None) > 0.1
