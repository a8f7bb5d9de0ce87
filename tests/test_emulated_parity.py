"""Parity: the refsim's SpiNNaker mode (numpy, written from the reference notes) against the emulated
core (sPyNNaker's compiled IF_curr_exp code under unicorn) on 100 random quantized networks.

The two are independent implementations: one is ours, the other is the vendor's binary, fed with
the shifts, weight words and delays sPyNNaker itself built for the exported model (virtual board).
"""
from __future__ import annotations

import numpy as np
import pytest

from neurodelay.backends.spinnaker.emulated import EmulatedCoreExecutor
from neurodelay.backends.spinnaker.emulated.parity import random_case, run_parity
from neurodelay.quant.spinnaker import integer_model

N_NETWORKS = 100


@pytest.fixture(scope="module")
def results():
    return run_parity(N_NETWORKS, seed=0)


def test_hundred_random_networks_match_spike_for_spike_and_state_for_state(results):
    assert len(results) == N_NETWORKS
    failed = {r.network: r.mismatches[:3] for r in results if not r.passed}
    assert failed == {}
    assert {r.executor for r in results} == {"emulated-core"}
    assert sum(r.spikes for r in results) > 10_000           # the comparison is not of silent networks


def test_the_cases_cover_recurrence_delays_refractoriness_and_saturation(results):
    networks = [random_case(seed)[0] for seed in range(N_NETWORKS)]
    assert sum(n.is_recurrent for n in networks) >= 40
    assert {n.population("hidden").refractory_steps for n in networks} == {0, 1, 2}
    longest_over_slots = []
    for network in networks:
        layout = integer_model(network)
        longest = max(int(s.delay_steps.max()) for s in layout.synapses if s.delay_steps.size)
        longest_over_slots.append(longest / min(p.slots for p in layout.populations.values()))
    assert min(longest_over_slots) <= 1.0 and max(longest_over_slots) > 1.0   # up to D, and beyond (extension)
    assert any(np.isclose(x, 1.0) for x in longest_over_slots)                  # delay == D (field 0 on chip)
    assert sum(1 for r in results if any(r.saturations.values())) >= 10


def test_round_to_nearest_membrane_multiply_in_the_refsim_is_caught():
    """Mutation check: the refsim with the later sources' rounding must fail parity."""
    mutated = run_parity(10, seed=0, membrane_rounding="nearest", integers_from="layout")
    assert all(not r.passed for r in mutated)
    assert {m.quantity for r in mutated for m in r.mismatches} >= {"v"}


def test_the_executor_plugs_into_the_parity_harness_comparison():
    """Through the registered refsim mode and the harness's own comparison (what ``neurodelay parity``
    will call once it takes ``--executor emulated-core``)."""
    from neurodelay import refsim
    from neurodelay.executor import input_dict
    from neurodelay.parity.compare import compare
    cases = [random_case(seed) for seed in range(100, 110)]
    with EmulatedCoreExecutor() as executor:
        candidates = executor.run_many(cases)
    for (network, inputs), candidate in zip(cases, candidates):
        reference = refsim.simulate(network, input_dict(network, inputs), mode="spinnaker")
        assert candidate.executor == "emulated-core"
        assert compare(reference, candidate, ("spikes", "v", "i_syn", "i_exc", "i_inh")) == []


def test_layout_and_virtual_board_integers_agree_on_the_same_network():
    network, inputs = random_case(7)
    from_build = EmulatedCoreExecutor(integers_from="virtual-board").run(network, inputs)
    from_layout = EmulatedCoreExecutor(integers_from="layout").run(network, inputs)
    for name, population in from_layout.populations.items():
        assert np.array_equal(population.spikes, from_build.populations[name].spikes)
        for state, values in population.states.items():
            assert np.array_equal(values, from_build.populations[name].states[state])


def test_unknown_integer_source_is_named():
    from neurodelay.errors import ValidationError
    with pytest.raises(ValidationError, match="integers_from"):
        EmulatedCoreExecutor(integers_from="board")


def test_neurodelay_parity_cli_runs_the_emulated_core(tmp_path):
    import json
    from neurodelay.cli import main
    report = tmp_path / "parity.json"
    status = main(["parity", "--target", "spinnaker", "--executor", "emulated-core", "--random", "6", "--seed", "3",
                   "--json", str(report)])
    written = json.loads(report.read_text())
    assert status == 0 and written["executor"] == "emulated-core" and written["nets"] == 6
    assert written["mismatches"] == 0 and written["compared"]["spikes"] > 0
    assert main(["parity", "--target", "spinnaker", "--executor", "no-such", "--random", "1"]) == 1
