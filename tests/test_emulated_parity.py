"""Parity: the refsim's SpiNNaker mode (numpy, written from docs/spinnaker.md) against the emulated
core (sPyNNaker's compiled IF_curr_exp code under unicorn) on 100 random quantized networks, through
the one parity harness (the emulated core is an executor of the SpiNNaker target).

The two are independent implementations: one is ours, the other is the vendor's binary, fed with
the shifts, weight words and delays sPyNNaker itself built for the exported model (virtual board).
The campaign here adds what the harness's target-neutral random networks leave out because not
every chip has it: refractoriness, per-neuron time constants and saturating ring-buffer slots.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from neurodelay.backends.spinnaker.emulated import EmulatedCoreExecutor
from neurodelay.ir import Network
from neurodelay.ir.random_nets import random_network
from neurodelay.parity import check_networks
from neurodelay.parity.compare import compare
from neurodelay.quant.spinnaker import integer_model, quantize_network
from neurodelay.refsim.spinnaker import simulate_model

N_NETWORKS = 100


def random_case(seed: int) -> tuple[Network, dict[str, np.ndarray]]:
    """A quantized random network and input spikes; the seed picks the variant: feed-forward or
    recurrent, dense or sparse, delays up to 1, 4, 12 or 30 steps, weights small or large (large: many
    spikes, refractoriness), shift policy ``worst_case`` or ``largest_weight`` (slots may saturate)."""
    rng = np.random.default_rng(seed)
    network = random_network(
        seed,
        recurrent=bool(seed % 2),
        sparse=bool((seed // 2) % 2),
        integer_delays=True,
        max_delay_steps=int(rng.choice([1, 4, 12, 30])),
        weight_scale=float(rng.choice([0.3, 1.0, 3.0])),
        n_hidden=int(rng.integers(3, 12)),
        per_neuron_parameters=bool(rng.integers(2)),
    )
    policy = "largest_weight" if seed % 3 == 0 else "worst_case"
    quantized, _ = quantize_network(network, shift_policy=policy)
    steps = int(rng.integers(40, 120))
    rate = float(rng.choice([0.05, 0.2, 0.5]))
    return quantized, {network.sources()[0].name: rng.random((2, steps, network.sources()[0].size)) < rate}


@dataclass
class Campaign:
    cases: list
    report: object
    saturations: list[dict[str, int]] = field(default_factory=list)
    saturation_disagreements: list[str] = field(default_factory=list)


def run_campaign(count: int, seed: int, integers_from: str = "virtual-board") -> Campaign:
    """The harness over ``count`` cases; beside it, whether a ring-buffer slot saturated at all must
    agree (the core counts per synapse addition that hits 0xFFFF, the refsim per ring entry and
    delivery, so only "saturated or not" is comparable)."""
    cases = [random_case(seed + index) for index in range(count)]
    with EmulatedCoreExecutor(integers_from=integers_from) as executor:
        report, _ = check_networks("spinnaker", [(n, i, seed + k) for k, (n, i) in enumerate(cases)], executor)
        provenance = executor.provenance_per_run
    campaign = Campaign(cases, report, [dict(p.ring_buffer_saturations) for p in provenance])
    for (network, inputs), emulated in zip(cases, campaign.saturations):
        _, counters = simulate_model(integer_model(network), inputs)
        for name, count_ in counters.ring_buffer_saturations.items():
            if (count_ > 0) != (emulated.get(name, 0) > 0):
                campaign.saturation_disagreements.append(
                    f"{network.name}.{name}: refsim {count_}, core {emulated.get(name)}"
                )
    return campaign


@pytest.fixture(scope="module")
def campaign():
    return run_campaign(N_NETWORKS, seed=0)


def test_hundred_random_networks_match_spike_for_spike_and_state_for_state(campaign):
    summary = campaign.report.to_dict()
    assert summary["nets"] == N_NETWORKS and summary["executor"] == "emulated-core"
    assert summary["mismatches"] == 0, "\n".join(campaign.report.lines())
    assert campaign.saturation_disagreements == []
    assert summary["compared"]["spikes"] > 5_000  # neuron spikes (sources not counted): not silent networks


def test_the_cases_cover_recurrence_delays_refractoriness_and_saturation(campaign):
    networks = [random_case(seed)[0] for seed in range(N_NETWORKS)]
    assert sum(n.is_recurrent for n in networks) >= 40
    assert {n.population("hidden").refractory_steps for n in networks} == {0, 1, 2}
    longest_over_slots = []
    for network in networks:
        layout = integer_model(network)
        longest = max(int(s.delay_steps.max()) for s in layout.synapses if s.delay_steps.size)
        longest_over_slots.append(longest / min(p.slots for p in layout.populations.values()))
    assert min(longest_over_slots) <= 1.0 and max(longest_over_slots) > 1.0  # up to D, and beyond (extension)
    assert any(np.isclose(x, 1.0) for x in longest_over_slots)  # delay == D (field 0 on chip)
    assert sum(1 for counts in campaign.saturations if any(counts.values())) >= 10


def test_round_to_nearest_membrane_multiply_in_the_refsim_is_caught():
    """Mutation check: the refsim with the later sources' rounding must fail parity."""
    cases = [random_case(seed) for seed in range(10)]
    with EmulatedCoreExecutor(integers_from="layout") as executor:
        emulated = executor.run_many(cases)
    quantities = set()
    for (network, inputs), candidate in zip(cases, emulated):
        mutated, _ = simulate_model(integer_model(network), inputs, membrane_rounding="nearest")
        divergences = compare(mutated, candidate, ("spikes", "v", "i_exc", "i_inh"))
        assert divergences
        quantities |= {d.quantity for d in divergences}
    assert "v" in quantities


def test_the_executor_plugs_into_the_parity_harness_comparison():
    """Through the registered refsim mode and the harness's comparison, with every current state."""
    from neurodelay import refsim
    from neurodelay.executor import input_dict

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
    status = main(
        [
            "parity",
            "--target",
            "spinnaker",
            "--executor",
            "emulated-core",
            "--random",
            "6",
            "--seed",
            "3",
            "--json",
            str(report),
        ]
    )
    written = json.loads(report.read_text())
    assert status == 0 and written["executor"] == "emulated-core" and written["nets"] == 6
    assert written["mismatches"] == 0 and written["compared"]["spikes"] > 0
    assert main(["parity", "--target", "spinnaker", "--executor", "no-such", "--random", "1"]) == 1
