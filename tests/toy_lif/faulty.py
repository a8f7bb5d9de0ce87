"""``toy_lif_faulty``: the toy chip with a deliberately broken executor, to prove that a parity
campaign reports what goes wrong (registered only by tests/test_parity_campaign_store.py).

Its executor is the toy event loop, then, depending only on the network it is given (so that the
saved network reproduces it): with a population ``l2``, v of its neuron 0 at the last step is off by
one (a mismatch); with exactly 13 input neurons it fails (an executor crash); with exactly 14 it
reports a time-out (a hang).
"""

from __future__ import annotations

from dataclasses import replace

from neurodelay.errors import ExecutorError
from neurodelay.executor import Executor

from . import TARGET as TOY
from .files import ToyExecutor

CRASH_INPUTS = 13
HANG_INPUTS = 14
PERTURBED = "l2"


class FaultyExecutor(Executor):
    name = "toy-faulty"
    records = True

    def run(self, network, inputs):
        inputs_size = network.sources()[0].size
        if inputs_size == CRASH_INPUTS:
            raise ExecutorError(f"toy-faulty crashed on {network.name}")
        if inputs_size == HANG_INPUTS:
            raise ExecutorError(f"toy-faulty run of {network.name} did not finish within 1 s and was stopped")
        recording = ToyExecutor().run(network, inputs)
        if PERTURBED in recording.populations:
            recording.populations[PERTURBED].states["v"][:, -1, 0] += 1
        return recording


def executor(**options) -> FaultyExecutor:
    return FaultyExecutor()


TARGET = replace(TOY, name="toy_lif_faulty", executors=(("toy-faulty", "toy_lif.faulty:executor"),))
