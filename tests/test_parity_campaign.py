"""CI parity campaigns: 200 networks of the campaign distribution (docs/parity_campaigns.md) per
executor, Lava fixed_pt (loihi2), the sPyNNaker virtual-board build and the emulated SpiNNaker core,
each against the target's bit-accurate refsim mode, with zero mismatches, no hung or crashed run,
and every corner the campaign measures exercised by at least one network's run."""

from __future__ import annotations

import numpy as np
import pytest

from neurodelay.parity.campaign.distribution import STREAM, draw_case
from neurodelay.parity.campaign.driver import Campaign, CampaignConfig
from neurodelay.parity.campaign.runner import campaign_plug, corners_of
from neurodelay.quant.loihi2 import integer_model
from neurodelay.targets import get_target

NETS = 200
EXECUTORS = [("loihi2", "lava-fixed_pt"), ("spinnaker", "spynnaker"), ("spinnaker", "emulated-core")]


@pytest.fixture(scope="module", params=EXECUTORS, ids=[executor for _, executor in EXECUTORS])
def campaign(request, tmp_path_factory):
    target, executor = request.param
    out = tmp_path_factory.mktemp(f"campaign_{executor}")
    summary = Campaign(CampaignConfig(target, executor, NETS, 0, out, workers=2), log=lambda line: None).run()
    return target, executor, summary


@pytest.mark.slow
def test_two_hundred_campaign_networks_match(campaign):
    _, executor, summary = campaign
    statuses = summary["statuses"]
    assert summary["completed"] == NETS and summary["campaign"]["executor"] == executor
    assert statuses["mismatch"] == 0, summary["mismatches"][:3]
    assert statuses["hung"] == statuses["crashed"] == 0, summary["failures"][:3]
    assert statuses["matched"] >= 0.9 * NETS, summary["rejections"]
    assert summary["compared"]["spikes"] > 1000


@pytest.mark.slow
def test_every_corner_is_exercised(campaign):
    target, executor, summary = campaign
    corners = corners_of(get_target(target), executor)
    assert list(summary["coverage"]) == list(corners)
    assert summary["uncovered"] == [], summary["coverage"]
    assert all(summary["coverage"][corner] > 0 for corner in corners)


def test_the_loihi2_draws_reach_every_sign_mode_and_the_delay_extremes():
    """What the Lava campaign networks hold once quantized (sign modes, delays 0, 1 and 62)."""
    spec = get_target("loihi2")
    plug = campaign_plug(spec)
    modes, delays = set(), set()
    for seed in range(60):
        network, _, _ = draw_case(seed, plug, spec.resolve("delay_bound"))
        quantized = spec.prepare_for_parity(network, np.random.default_rng([STREAM, seed, 1]))
        for synapses in integer_model(quantized).synapses:
            modes.add(synapses.sign_mode)
            delays |= set(np.unique(synapses.delays_steps).tolist())
    assert modes == {"mixed", "excitatory", "inhibitory"}
    assert {0, 1, 62} <= delays


def test_the_rebuilt_ring_buffer_saturation_agrees_with_the_refsim_counters():
    """The campaign's ring-buffer saturation corner (rebuilt from the recorded spikes) against the
    refsim SpiNNaker mode's own saturation counters: found only where the refsim counted one, and
    missed only where every saturating delivery would land after the run."""
    from neurodelay.parity.campaign.runner import prepare
    from neurodelay.parity.spinnaker import coverage
    from neurodelay.quant.spinnaker import integer_model
    from neurodelay.refsim.spinnaker import simulate_model

    spec = get_target("spinnaker")
    plug = campaign_plug(spec)
    found = counted = 0
    for seed in range(40):
        case = prepare(spec, plug, seed, "spynnaker")
        if isinstance(case, dict):
            continue
        _, counters = simulate_model(integer_model(case.network), case.inputs)
        saturated = "ring_buffer_saturation" in coverage(case.network, case.inputs, case.reference)
        refsim_saturated = sum(counters.ring_buffer_saturations.values()) > 0
        assert not saturated or refsim_saturated, seed
        found += saturated
        counted += refsim_saturated
    assert found >= 3 and found >= 0.8 * counted, (found, counted)
