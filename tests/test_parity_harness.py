"""The parity harness itself: it finds divergences (the mutation check: a broken rounding and a
broken latency in the refsim's Loihi 2 mode, numpy engine, make Lava parity fail), reports where they start, and
the CLI exits non-zero, writes the JSON report and a plot. Also the CLI on a network file."""

import json

import numpy as np
import pytest

from neurodelay import ir
from neurodelay.cli import main
from neurodelay.ir.random_nets import random_case, random_delays
from neurodelay.parity import compare, random_cases
from neurodelay.parity.harness import result_of
from neurodelay.quant.loihi2 import quantize_network
from neurodelay.recording import PopulationRecording, Recording
from neurodelay.refsim import engine as refsim_engine
from neurodelay.refsim import loihi2 as refsim_loihi2
from neurodelay.refsim import simulate

SEEDS = (3, 4, 5, 6)


def recording(spikes, v):
    return Recording("x", 1.0, spikes.shape[1], {"p": PopulationRecording(spikes, {"v": v}, {"v": 1.0})})


def test_compare_reports_the_first_divergence():
    spikes = np.zeros((2, 6, 3), bool)
    v = np.zeros((2, 6, 3), np.int64)
    other_spikes, other_v = spikes.copy(), v.copy()
    other_v[1, 4, 2] = 7
    other_v[0, 5, 0] = -1
    other_spikes[1, 2, 1] = True
    found = compare(recording(spikes, v), recording(other_spikes, other_v), ("spikes", "v"))
    assert [(d.quantity, d.step, d.batch, d.neuron, d.reference, d.candidate, d.count) for d in found] == [
        ("spikes", 2, 1, 1, 0.0, 1.0, 1),
        ("v", 4, 1, 2, 0.0, 7.0, 2),
    ]
    assert compare(recording(spikes, v), recording(spikes.copy(), v.copy()), ("spikes", "v")) == []


@pytest.fixture(scope="module")
def lava_runs():
    from neurodelay.parity import executor_for

    cases = random_cases("loihi2", len(SEEDS), SEEDS[0])
    with executor_for("loihi2", workers=2) as lava:
        recordings = lava.run_many([(network, inputs) for network, inputs, _ in cases])
    return cases, recordings


def mismatching(cases, recordings):
    results = [
        result_of(network, seed, simulate(network, inputs, mode="loihi2"), lava, ("u", "v"))
        for (network, inputs, seed), lava in zip(cases, recordings)
    ]
    return [r for r in results if not r.matched]


def test_unmutated_refsim_matches(lava_runs):
    assert mismatching(*lava_runs) == []


@pytest.fixture
def numpy_engine(monkeypatch):
    """The mutations below patch the numpy engine's functions, so the refsim must run that engine."""
    monkeypatch.setattr(refsim_engine, "DEFAULT_ENGINE", "numpy")


def test_mutation_floor_instead_of_truncation_is_caught(lava_runs, monkeypatch, numpy_engine):
    monkeypatch.setattr(
        refsim_loihi2, "truncated_decay", lambda state, factor: (state * factor) >> 12
    )  # floor: -639.8 -> -640
    failed = mismatching(*lava_runs)
    assert failed and failed[0].divergences[0].quantity in ("u", "v")


def test_mutation_one_step_late_is_caught(lava_runs, monkeypatch, numpy_engine):
    monkeypatch.setattr(refsim_loihi2, "arrival_steps", lambda step, delays: step + 2 + delays)
    failed = mismatching(*lava_runs)
    assert len(failed) == len(SEEDS)
    assert all(r.divergences[0].quantity in ("u", "v", "spikes") for r in failed)


def test_cli_fails_and_plots_on_a_mismatch(tmp_path, monkeypatch, capsys, numpy_engine):
    monkeypatch.setattr(refsim_loihi2, "arrival_steps", lambda step, delays: step + 2 + delays)
    report_path = tmp_path / "parity.json"
    assert main(["parity", "--target", "loihi2", "--random", "2", "--seed", "3", "--json", str(report_path)]) == 1
    report = json.loads(report_path.read_text())
    assert report["target"] == "loihi2" and report["executor"] == "lava-fixed_pt"
    assert report["nets"] == 2 and report["mismatches"] == 2
    first = report["mismatched"][0]["first_divergence"]
    assert report["mismatched"][0]["seed"] == 3
    assert set(first) >= {"step", "population", "neuron", "reference", "candidate", "quantity"}
    assert first["reference"] != first["candidate"]
    assert (tmp_path / "parity.png").stat().st_size > 1000
    assert "first divergence at step" in capsys.readouterr().out


def test_cli_on_a_network_file_with_inputs(tmp_path, capsys):
    network, inputs, _ = random_cases("loihi2", 1, 11)[0]
    path = ir.save(network, tmp_path / "net.ndnet")
    np.savez(tmp_path / "inputs.npz", **{name: spikes.astype(np.uint8) for name, spikes in inputs.items()})
    assert (
        main(
            [
                "parity",
                str(path),
                "--target",
                "loihi2",
                "--inputs",
                str(tmp_path / "inputs.npz"),
                "--json",
                str(tmp_path / "r.json"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["nets"] == 1 and report["mismatches"] == 0
    assert not (tmp_path / "r.png").exists()


def test_cli_quantizes_a_float_network_and_says_so(tmp_path, capsys):
    network = ir.Network(
        "f",
        1.0,
        (ir.SpikeSource("in", 2), ir.LIF("n", 3, tau_m_ms=10.0, tau_syn_ms=3.0)),
        (ir.Projection("p", "in", "n", np.full((2, 3), 0.7), np.array([[0, 1, 2], [3, 4, 5]]), 5),),
    )
    path = ir.save(network, tmp_path / "f.ndnet")
    assert main(["parity", str(path), "--target", "loihi2", "--steps", "30", "--rate", "0.3"]) == 0
    out = capsys.readouterr().out
    assert "quantized for loihi2" in out and "0 mismatching" in out
    assert quantize_network(network)[1].changes  # the float net was not exactly representable


@pytest.mark.parametrize("max_delay_steps", [0, 1, 2, 3, 4])
def test_random_parity_networks_keep_a_small_maximum_delay(max_delay_steps):
    """The mixed delay profile drew its top among 2, 5 and the maximum: a target or campaign bound
    below 5 steps got delays beyond it (an invalid network for max 0 and 1)."""
    drawn = 0
    for seed in range(40):
        network, _ = random_case(seed, max_delay_steps=max_delay_steps)
        for projection in network.projections:
            assert projection.max_delay_steps == max_delay_steps
            drawn = max(drawn, int(projection.delays_steps.max(initial=0)))
    assert drawn == max_delay_steps
    rng = np.random.default_rng(0)
    for _ in range(50):
        assert random_delays(rng, (6, 7), "mixed", max_delay_steps).max() <= max_delay_steps
