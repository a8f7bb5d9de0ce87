"""Reference simulator: vectorised numpy executions of an IR network, one mode per arithmetic.

Modes: ``float`` (the IR's dynamics in float64; the engine's forward pass must equal it) and, under
each registered target's name, that target's bit-accurate integer mode (the ``refsim`` entry of its
spec in :mod:`neurodelay.targets`, imported only when asked for). Every mode takes a network and
``{source: bool [batch, steps, n]}`` inputs and returns a :class:`~neurodelay.recording.Recording`.

Beside the modes, :mod:`neurodelay.refsim.exact_time` simulates the continuous-time limit of the
dynamics (exact spike times, continuous delays) for gradient checks; it is not a mode, since its
spikes do not fall on steps.
"""

from __future__ import annotations

from ..errors import ValidationError
from ..executor import Executor, Inputs, input_dict
from ..ir import Network
from ..recording import Recording
from ..targets import get_target, target_names

FLOAT_MODE = "float"


def modes() -> list[str]:
    """``float`` and the names of the targets that have a bit-accurate mode."""
    return [FLOAT_MODE] + target_names("simulate")


def _check_mode(mode: str) -> None:
    if mode != FLOAT_MODE and mode not in target_names("simulate"):
        raise ValidationError("mode", f"unknown reference-simulator mode {mode!r}", ", ".join(modes()))


def simulate(network: Network, inputs: Inputs, *, mode: str = FLOAT_MODE) -> Recording:
    """Simulate ``network`` on ``inputs`` in ``mode`` (see :func:`modes`)."""
    _check_mode(mode)
    checked = input_dict(network, inputs)
    if mode == FLOAT_MODE:
        from .float_mode import simulate_float

        return simulate_float(network, checked)
    return get_target(mode).simulate(network, checked)


class RefsimExecutor(Executor):
    """The reference simulator in one mode, behind the common executor surface."""

    def __init__(self, mode: str = FLOAT_MODE) -> None:
        _check_mode(mode)
        self.mode = mode
        self.name = f"refsim-{mode}"

    def run(self, network: Network, inputs: Inputs) -> Recording:
        return simulate(network, inputs, mode=self.mode)
