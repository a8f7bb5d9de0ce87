"""Reference simulator: vectorised numpy executions of an IR network, one mode per arithmetic.

Modes: ``float`` (the IR's dynamics in float64; the engine's forward pass must equal it) and, under
each registered target's name, that target's bit-accurate integer mode (the ``refsim`` entry of its
spec in :mod:`neurodelay.targets`, imported only when asked for). Every mode takes a network and
``{source: bool [batch, steps, n]}`` inputs and returns a :class:`~neurodelay.recording.Recording`.

The built-in targets' integer modes have two engines (:mod:`.engine`): the compiled time loop
(numba, the default) and the vectorised numpy oracle it is tested against; ``engine=`` picks one.
The float mode has the numpy engine only.

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
from .engine import resolve_engine

FLOAT_MODE = "float"


def modes() -> list[str]:
    """``float`` and the names of the targets that have a bit-accurate mode."""
    return [FLOAT_MODE] + target_names("simulate")


def _check_mode(mode: str) -> None:
    if mode != FLOAT_MODE and mode not in target_names("simulate"):
        raise ValidationError("mode", f"unknown reference-simulator mode {mode!r}", ", ".join(modes()))


def _check_engine(mode: str, engine: str | None) -> None:
    if engine is None:
        return
    resolve_engine(engine)
    if mode == FLOAT_MODE and engine != "numpy":
        raise ValidationError("engine", f"the float mode has no {engine!r} engine", "numpy (or none)")


def simulate(network: Network, inputs: Inputs, *, mode: str = FLOAT_MODE, engine: str | None = None) -> Recording:
    """Simulate ``network`` on ``inputs`` in ``mode`` (see :func:`modes`) with ``engine`` (``compiled``
    or ``numpy``; None: the mode's default, see :mod:`.engine`)."""
    _check_mode(mode)
    _check_engine(mode, engine)
    checked = input_dict(network, inputs)
    if mode == FLOAT_MODE:
        from .float_mode import simulate_float

        return simulate_float(network, checked)
    if engine is None:
        return get_target(mode).simulate(network, checked)
    return get_target(mode).simulate(network, checked, engine=engine)


class RefsimExecutor(Executor):
    """The reference simulator in one mode, behind the common executor surface."""

    def __init__(self, mode: str = FLOAT_MODE, engine: str | None = None) -> None:
        _check_mode(mode)
        _check_engine(mode, engine)
        self.mode = mode
        self.engine = engine
        self.name = f"refsim-{mode}"

    def run(self, network: Network, inputs: Inputs) -> Recording:
        return simulate(network, inputs, mode=self.mode, engine=self.engine)
