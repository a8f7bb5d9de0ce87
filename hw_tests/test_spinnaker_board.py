"""SpiNNaker parity on a real board: what only hardware can show (spikes, v and currents step by step).

Runs when ``NEURODELAY_SPINNAKER_BOARD=1`` and the user's ``~/.spynnaker.cfg`` names a board
(machineName or spalloc); skipped with that reason otherwise. Each network runs through the
sPyNNaker backend (the batch as parallel copies of the model) and is compared spike for spike and
state for state with the reference simulator's ``spinnaker`` mode by the target-neutral harness,
and its build is compared synapse by synapse as in CI.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from neurodelay.parity import check_networks, random_cases
from neurodelay.parity.spinnaker import check_builds

pytestmark = [
    pytest.mark.hardware,
    pytest.mark.skipif(
        os.environ.get("NEURODELAY_SPINNAKER_BOARD") != "1",
        reason="no SpiNNaker board: set NEURODELAY_SPINNAKER_BOARD=1 with a board in ~/.spynnaker.cfg",
    ),
]


@pytest.fixture(scope="module")
def board_executor():
    from neurodelay.backends.spinnaker import executor

    with executor(board=True, timeout_s=1800) as spinnaker:
        assert spinnaker.records
        yield spinnaker


def test_random_networks_match_refsim_spike_for_spike(board_executor):
    cases = random_cases("spinnaker", 10, seed=0)
    report, _ = check_networks("spinnaker", cases, board_executor)
    assert report.mismatches == 0, "\n".join(report.lines())


def test_what_the_board_built_matches_the_quantizer(board_executor):
    cases = random_cases("spinnaker", 10, seed=100)
    report = check_builds(cases, board_executor)
    assert report.mismatches == 0, "\n".join(report.lines())


def test_delay_extension_latency_on_the_board(board_executor):
    from neurodelay import refsim
    from neurodelay.ir import LIF, Network, Projection, SpikeSource
    from neurodelay.quant.spinnaker import quantize_network

    weights = np.zeros((256, 256))
    delays = np.zeros((256, 256), np.int64)
    for j, d in enumerate([1, 2, 31, 40, 70]):
        weights[0, j], delays[0, j] = 0.01, d
    network = Network(
        "extension",
        1.0,
        (SpikeSource("in", 256), LIF("out", 256)),
        (Projection("in_out", "in", "out", weights, delays, 70),),
    )
    quantized, _ = quantize_network(network, neurons_per_core=256)
    inputs = np.zeros((1, 90, 256), bool)
    inputs[0, 3, 0] = True
    recorded = board_executor.run(quantized, inputs)
    reference = refsim.simulate(quantized, inputs, mode="spinnaker")
    for key in ("v", "i_exc"):
        assert np.array_equal(recorded.populations["out"].states[key], reference.populations["out"].states[key]), key
