"""Parity on a Loihi 2 chip: the same random nets and latency cases as the simulator campaign."""

import pytest

from neurodelay.parity import check_networks, executor_for, random_cases

pytestmark = pytest.mark.hardware


def test_random_nets_match_on_the_chip(loihi2_hardware):
    cases = random_cases("loihi2", 20, seed=0)
    with executor_for("loihi2", hardware=True, workers=1, timeout_s=600) as chip:
        report, _ = check_networks("loihi2", cases, chip)
    assert report.mismatches == 0, "\n".join(report.lines())
