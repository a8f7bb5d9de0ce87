"""Reference simulator: vectorised numpy executions of an IR network, one mode per arithmetic.

Modes: ``float`` (the IR's dynamics in float64; the engine's forward pass must equal it) and one
bit-accurate integer mode per target, registered in :data:`MODES` by name (``module:function``)
so that importing the simulator loads only the mode that is asked for. Every mode takes a network
and ``{source: bool [batch, steps, n]}`` inputs and returns a :class:`~neurodelay.recording.Recording`.

Beside the modes, :mod:`neurodelay.refsim.exact_time` simulates the continuous-time limit of the
dynamics (exact spike times, continuous delays) for gradient checks; it is not a mode, since its
spikes do not fall on steps.
"""
from __future__ import annotations

import importlib

from ..errors import ValidationError
from ..executor import Executor, Inputs, input_dict
from ..ir import Network
from ..recording import Recording

MODES: dict[str, str] = {
    "float": "neurodelay.refsim.float_mode:simulate_float",
    "loihi2": "neurodelay.refsim.loihi2:simulate_loihi2",
    "spinnaker": "neurodelay.refsim.spinnaker:simulate_spinnaker",
}


def simulate(network: Network, inputs: Inputs, *, mode: str = "float") -> Recording:
    """Simulate ``network`` on ``inputs`` in ``mode``; see :data:`MODES` for the available modes."""
    if mode not in MODES:
        raise ValidationError("mode", f"unknown reference-simulator mode {mode!r}", ", ".join(MODES))
    module_name, function_name = MODES[mode].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    return function(network, input_dict(network, inputs))


class RefsimExecutor(Executor):
    """The reference simulator in one mode, behind the common executor surface."""

    def __init__(self, mode: str = "float") -> None:
        if mode not in MODES:
            raise ValidationError("mode", f"unknown reference-simulator mode {mode!r}", ", ".join(MODES))
        self.mode = mode
        self.name = f"refsim-{mode}"

    def run(self, network: Network, inputs: Inputs) -> Recording:
        return simulate(network, inputs, mode=self.mode)
