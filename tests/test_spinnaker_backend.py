"""sPyNNaker backend and SpiNNaker parity: isolated virtual-board builds, read-back comparison, CLI campaign."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest

from neurodelay import refsim
from neurodelay.backends.spinnaker import board_recording, executor
from neurodelay.backends.spinnaker.process import run_job
from neurodelay.errors import ExecutorError
from neurodelay.exporters.spinnaker import model_from_network
from neurodelay.ir import LIF, Network, Projection, SpikeSource
from neurodelay.ir.random_nets import random_case
from neurodelay.parity.spinnaker import compare_build, expected_synapses, prepare
from neurodelay.quant.spinnaker import integer_model, quantize_network


def small_network() -> Network:
    weights = np.array([[0.4, -0.3, 0.0], [0.2, 0.5, -0.6]])
    delays = np.array([[0, 3, 0], [7, 1, 12]])
    recurrent_weights = np.array([[0.0, 0.3, 0.0], [-0.2, 0.0, 0.0], [0.0, 0.0, 0.1]])
    recurrent_delays = np.array([[0, 2, 0], [0, 0, 0], [0, 0, 5]])
    return Network(
        "small",
        1.0,
        (SpikeSource("in", 2), LIF("out", 3, tau_m_ms=12.0, refractory_steps=1)),
        (
            Projection("in_out", "in", "out", weights, delays, 12),
            Projection("out_out", "out", "out", recurrent_weights, recurrent_delays, 5),
        ),
    )


def faithful_read_back(network: Network) -> dict:
    """What a correct build would read back, written from the IR (to test the comparison itself)."""
    layout = integer_model(network)
    read_back = {"shifts": {}, "delay_slots": {}, "delay_extension": {}, "projections": {}}
    for name, population in layout.populations.items():
        read_back["shifts"][name] = [population.shift, population.shift]
        read_back["delay_slots"][name] = population.slots
        read_back["delay_extension"][name] = population.needs_delay_extension
    for label, synapses in expected_synapses(network).items():
        pairs = sorted(synapses)
        read_back["projections"][label] = {
            "synapse_type": 0 if label.endswith("excitatory") else 1,
            "pre_index": [p[0] for p in pairs],
            "post_index": [p[1] for p in pairs],
            "weight_words": [synapses[p][0] for p in pairs],
            "delay_steps": [synapses[p][1] for p in pairs],
        }
    return read_back


def test_compare_build_finds_each_kind_of_difference():
    quantized, _ = quantize_network(small_network())
    faithful = faithful_read_back(quantized)
    assert compare_build(quantized, faithful)[0] == []
    tampered = []
    for change in ("weight", "delay", "type", "shift", "slots", "missing"):
        read_back = copy.deepcopy(faithful)
        built = read_back["projections"]["in_out:excitatory"]
        if change == "weight":
            built["weight_words"][0] += 1
        elif change == "delay":
            built["delay_steps"][0] -= 1
        elif change == "type":
            built["synapse_type"] = 1
        elif change == "shift":
            read_back["shifts"]["out"] = [read_back["shifts"]["out"][0] + 1] * 2
        elif change == "slots":
            read_back["delay_slots"]["out"] *= 2
        else:
            for key in ("pre_index", "post_index", "weight_words", "delay_steps"):
                built[key].pop()
        mismatches, _ = compare_build(quantized, read_back)
        tampered.append(len(mismatches))
    assert tampered == [1, 1, 1, 1, 1, 1]


def test_board_recordings_are_shifted_into_the_ir_step_numbering():
    quantized, _ = quantize_network(small_network())
    layout = integer_model(quantized)
    inputs = np.random.default_rng(3).random((1, 30, 2)) < 0.3
    reference = refsim.simulate(quantized, inputs, mode="spinnaker")
    out = reference.populations["out"]
    # what the chip records over 31 ticks: v before the update of each tick (v_init first), gsyn after input
    v_chip = np.concatenate([layout.populations["out"].bits["v"][None], out.states["v"][0]]) / 32768
    extra = np.zeros((1, 3))
    chip = {
        "out/spikes": np.concatenate([out.spikes[0], extra.astype(bool)]),
        "out/v": v_chip,
        "out/gsyn_exc": np.concatenate([out.states["i_exc"][0], extra]) / 32768,
        "out/gsyn_inh": np.concatenate([out.states["i_inh"][0], extra]) / 32768,
    }
    converted = board_recording(layout, chip, {"in": inputs[0]}, 30)
    for key in ("v", "i_exc", "i_inh", "i_syn"):
        assert np.array_equal(converted["out"].states[key], out.states[key]), key
        assert converted["out"].state_scales[key] == out.state_scales[key]
    assert np.array_equal(converted["out"].spikes, out.spikes)
    with pytest.raises(ExecutorError, match="recorded 30 ticks"):
        board_recording(layout, {k: v[:30] for k, v in chip.items()}, {"in": inputs[0]}, 30)


def unreached_network() -> Network:
    """in -> mid -> out where every in -> mid weight rounds to zero word: ``mid`` gets no synapses.
    Campaign seed 2794 found such a population: sPyNNaker gives its cores 1 delay slot, not 2."""
    return Network(
        "unreached",
        1.0,
        (SpikeSource("in", 3), LIF("mid", 4, tau_m_ms=10.0), LIF("out", 2, tau_m_ms=10.0)),
        (
            Projection("in_mid", "in", "mid", np.full((3, 4), 1e-9), np.zeros((3, 4), np.int64), 3),
            Projection("mid_out", "mid", "out", np.full((4, 2), 0.5), np.array([[0, 1]] * 4), 3),
        ),
    )


def test_virtual_board_builds_match_and_leave_home_alone(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("NEURODELAY_SPINNAKER_BOARD", raising=False)
    unreached = quantize_network(unreached_network())[0]
    assert not np.any(unreached.projection("in_mid").integer_weights)
    assert integer_model(unreached).populations["mid"].slots == 1
    networks = [quantize_network(small_network())[0], unreached]
    for seed in range(5):
        network, _ = random_case(seed, max_delay_steps=60)
        networks.append(prepare(network, np.random.default_rng(seed)))
    with executor(nets_per_build=3, workers=2) as spinnaker:
        assert spinnaker.name == "virtual-board" and not spinnaker.records
        built = spinnaker.build_many(networks)
        with pytest.raises(ExecutorError, match="records nothing"):
            spinnaker.run(networks[0], np.zeros((1, 5, 2), bool))
    assert len(built) == len(networks)
    for network, read_back in zip(networks, built):
        mismatches, checked = compare_build(network, read_back)
        assert mismatches == [], mismatches[:3]
        assert checked["synapses"] > 0
    assert list(tmp_path.iterdir()) == []


def test_a_failing_build_reports_the_child_log():
    quantized, _ = quantize_network(small_network())
    model = model_from_network(quantized)
    model["projections"][0]["post"] = "no_such_population"
    with pytest.raises(ExecutorError, match="build failed") as raised:
        run_job([model], steps=1, record=False, board=False, timeout_s=300)
    assert "no_such_population" in str(raised.value)


def test_a_hung_build_is_killed_at_the_timeout():
    quantized, _ = quantize_network(small_network())
    with pytest.raises(ExecutorError, match="timed out after 0.5 s"):
        run_job([model_from_network(quantized)], steps=1, record=False, board=False, timeout_s=0.5)


def test_cli_parity_of_100_random_networks_on_a_virtual_board(tmp_path):
    report_path = tmp_path / "parity.json"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "neurodelay",
            "parity",
            "--target",
            "spinnaker",
            "--random",
            "100",
            "--seed",
            "0",
            "--json",
            str(report_path),
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["target"] == "spinnaker" and report["executor"] == "virtual-board"
    assert report["nets"] == 100 and report["mismatches"] == 0
    assert report["compared"]["synapses"] > 5000 and report["compared"]["shifts"] > 100


def test_the_recording_path_runs_on_a_virtual_board_and_yields_no_fake_data():
    """record(), get_data() and the spike-source inputs of a board run, exercised as far as a virtual
    board goes: the signals come back named and shaped per neuron, with no samples."""
    quantized, _ = quantize_network(small_network())
    layout = integer_model(quantized)
    inputs = (np.random.default_rng(0).random((10, 2)) < 0.3).astype(np.uint8)
    _, recordings = run_job(
        [model_from_network(quantized)], steps=11, record=True, board=False, inputs=[{"in": inputs}], timeout_s=300
    )
    chip = recordings[0]
    assert sorted(chip) == ["out/gsyn_exc", "out/gsyn_inh", "out/spikes", "out/v"]
    assert chip["out/spikes"].shape == (11, 3) and not chip["out/spikes"].any()
    assert chip["out/v"].shape == (0, 3)
    with pytest.raises(ExecutorError, match="recorded 0 ticks"):
        board_recording(layout, chip, {"in": inputs}, 10)
