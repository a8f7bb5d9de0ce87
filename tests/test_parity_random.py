"""CI parity campaign: 200 seeded random networks through the parity harness, refsim-loihi2 against
Lava's bit-accurate simulation, with zero mismatches in spikes, u and v. The campaign must also
cover what it claims to (delays 0, 1, 62, recurrence, sparsity, every sign mode, overflow)."""

import numpy as np
import pytest

from neurodelay.parity import check_networks, executor_for, random_cases
from neurodelay.quant.loihi2 import integer_model

NETS = 200


@pytest.fixture(scope="module")
def campaign():
    cases = random_cases("loihi2", NETS, seed=0)
    with executor_for("loihi2", workers=2) as lava:
        report, recordings = check_networks("loihi2", cases, lava)
    return cases, report, recordings


@pytest.mark.slow
def test_two_hundred_random_nets_match_lava(campaign):
    _, report, _ = campaign
    summary = report.to_dict()
    assert summary["nets"] == NETS and summary["executor"] == "lava-fixed_pt"
    assert summary["mismatches"] == 0, "\n".join(report.lines())
    assert summary["compared"]["spikes"] > 1000


@pytest.mark.slow
def test_the_campaign_covers_the_cases_it_claims(campaign):
    cases, _, recordings = campaign
    delays, modes, recurrent, sparse, negative_saturation, large_current, readouts = set(), set(), 0, 0, 0, 0, 0
    for (network, _, _), (reference, lava) in zip(cases, recordings):
        model = integer_model(network)
        for synapses in model.synapses:
            delays |= set(np.unique(synapses.delays_steps).tolist())
            modes.add(synapses.sign_mode)
        recurrent += network.is_recurrent
        sparse += any(p.mask is not None for p in network.projections)
        readouts += any(n.readout for n in model.neurons)
        for neurons in model.neurons:
            v, u = lava.populations[neurons.name].states["v"], lava.populations[neurons.name].states["u"]
            negative_saturation += bool(np.any(v == -(2**23 - 1)))
            large_current += bool(np.any(np.abs(u) > 2**22))
    assert {0, 1, 2, 62} <= delays
    assert modes == {"mixed", "excitatory", "inhibitory"}
    assert recurrent >= 50 and sparse >= 50 and readouts >= 50
    assert negative_saturation >= 10 and large_current >= 10
